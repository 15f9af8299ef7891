#!/usr/bin/env python3
"""Outputs on real scans of the loopback lab (NSD + Unbound, scripts/lab):

1. the statistics of a CSV and of a JSON Lines scan validate against
   datasets/schema/stats.schema.json, every JSON Lines row against
   datasets/schema/row.schema.json, and both scans give the same
   statistics;
2. the README's pandas blocks (CSV with the documented dtypes, JSON Lines
   with read_json and json_normalize) run on those outputs, give the
   documented types, and agree row by row on domain, status, mail_status
   and findings;
3. a JSON Lines scan interrupted by SIGINT and resumed gives the same
   output and the same statistics (the keys about the run aside) as an
   uninterrupted one.

Needs Debian's python3-pandas, python3-jsonschema and python3-zstandard
(scripts/install-deps); run it with the python3 that has them.

usage: test_outputs_lab.py --mxscan BIN --source DIR [--size N] [--seed S]
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402
try:
    import jsonschema
    import pandas as pd
    import zstandard  # noqa: F401  (pandas reads .zst through it)
except ImportError as e:
    print("%s: %s; run scripts/install-deps (python3-pandas, python3-jsonschema, "
          "python3-zstandard)" % (sys.executable, e))
    sys.exit(1)

ARGS = None
LAB = {}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def rows_part(a):
    """Statistics without the keys that describe the run (and the format)."""
    keep = {k: v for k, v in a.items() if k not in (
        "started", "ended", "elapsed_seconds", "domains_this_run", "domains_per_second",
        "resumed", "queries", "cache")}
    keep["config"] = {k: v for k, v in a["config"].items() if k != "format"}
    return keep


def readme_block(name):
    """The python block after the '<!-- NAME: ... -->' marker of the README."""
    with open(os.path.join(ARGS.source, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- %s:[^>]*-->\s*```python\n(.*?)```" % re.escape(name), text, re.S)
    if not m:
        raise AssertionError("README has no %s block" % name)
    return m.group(1)


def run_block(name, replace):
    code = readme_block(name)
    for a, b in replace.items():
        if a not in code:
            raise AssertionError("README %s block does not read %s" % (name, a))
        code = code.replace(a, b)
    env = {}
    exec(compile(code, "README:" + name, "exec"), env)  # the documented recipe, verbatim
    return env


class OutputsLab(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxoutlab-")
        port = 40000 + (os.getpid() % 20000)
        cls.labdir = os.path.join(cls.tmp, "lab")
        subprocess.run([os.path.join(ARGS.source, "scripts", "lab"), "up", cls.labdir,
                        "--size", str(ARGS.size), "--seed", str(ARGS.seed),
                        "--nsd-addr", "127.0.12.21", "--nsd-port", str(port),
                        "--unbound-addr", "127.0.12.22", "--unbound-port", str(port + 1)],
                       check=True, stdout=subprocess.DEVNULL, timeout=600)
        with open(os.path.join(cls.labdir, "lab.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                LAB[k] = v.strip("'")
        # the lab's names as a rank,domain list, so that the rank column is filled
        with open(LAB["LAB_NAMES"], encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        cls.input = os.path.join(cls.tmp, "ranked.csv")
        with open(cls.input, "w", encoding="utf-8") as f:
            f.write("rank,domain\n")
            for i, n in enumerate(names):
                f.write('%d,"%s"\n' % (i + 1, n.replace('"', '""')))
        cls.n = len(names)
        cls.schemas = {k: load(os.path.join(ARGS.source, "datasets", "schema",
                                            k + ".schema.json"))
                       for k in ("stats", "row")}
        cls.out = {}
        for fmt, name in (("csv", "r.csv.zst"), ("jsonl", "r.jsonl.zst")):
            out, st = os.path.join(cls.tmp, name), os.path.join(cls.tmp, fmt + ".json")
            cls.scan(LAB["LAB_RESOLVER"], out, ["--format", fmt, "--stats", st])
            cls.out[fmt] = (out, st)

    @classmethod
    def tearDownClass(cls):
        subprocess.run([os.path.join(ARGS.source, "scripts", "lab"), "down", cls.labdir],
                       stdout=subprocess.DEVNULL, timeout=120)
        subprocess.run(["rm", "-rf", cls.tmp])

    @classmethod
    def scan(cls, resolver, out, extra, check=True):
        cmd = [ARGS.mxscan, "scan", "-q", "-r", resolver, "--allow-address", LAB["LAB_ALLOW"],
               "-o", out] + list(extra) + [cls.input]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
        if check and p.returncode != 0:
            raise AssertionError("mxscan exit %d: %s" % (p.returncode, p.stderr.decode()[-2000:]))
        return p

    def validate(self, schema, obj, what):
        v = jsonschema.Draft202012Validator(self.schemas[schema])
        errors = sorted(v.iter_errors(obj), key=lambda e: list(e.path))
        self.assertEqual(["%s: %s" % (list(e.path), e.message) for e in errors[:10]], [], what)

    def test_1_schemas(self):
        for k in self.schemas.values():
            jsonschema.Draft202012Validator.check_schema(k)
        stats = {}
        for fmt, (out, st) in self.out.items():
            stats[fmt] = load(st)
            self.validate("stats", stats[fmt], st)
            self.assertEqual(stats[fmt]["domains"], self.n)
            self.assertEqual(stats[fmt]["inputs"], [{"path": self.input, "rows": self.n}])
        self.assertEqual(rows_part(stats["csv"]), rows_part(stats["jsonl"]))
        # the lab has rows for most codes and providers: the schema saw them
        self.assertGreater(len(stats["csv"]["provider_findings"]), 2)
        self.assertGreater(stats["csv"]["spf_result"]["permerror"]["count"], 0)
        data = subprocess.run(["zstd", "-dc", self.out["jsonl"][0]], check=True,
                              stdout=subprocess.PIPE).stdout.decode("utf-8").splitlines()
        self.assertEqual(len(data), self.n)
        v = jsonschema.Draft202012Validator(self.schemas["row"])
        bad = []
        for i, line in enumerate(data):
            for e in v.iter_errors(json.loads(line)):
                bad.append("row %d %s: %s" % (i + 1, list(e.path), e.message))
        self.assertEqual(bad[:10], [], "%d rows do not validate" % len(bad))

    def test_2_pandas(self):
        csv_out, _ = self.out["csv"]
        jsonl_out, _ = self.out["jsonl"]
        env = run_block("pandas-csv", {'"results.csv.zst"': repr(csv_out)})
        df, dtypes = env["df"], env["MXSCAN_CSV_DTYPES"]
        self.assertEqual(list(df.columns), list(dtypes))
        for col, t in dtypes.items():
            self.assertEqual(str(df[col].dtype), t, col)
        self.assertEqual(len(df), self.n)
        self.assertEqual(int(df["rank"].min()), 1)
        self.assertEqual(df["rank"].tolist(), list(range(1, self.n + 1)))
        self.assertGreater(int(df["mx_ttl"].isna().sum()), 0)     # rows without MX
        self.assertGreater(int(df["mx_ttl"].notna().sum()), 0)
        self.assertEqual(int(df["spf"].isna().sum()), 0)           # empty text stays ""

        env = run_block("pandas-jsonl", {'"results.jsonl.zst"': repr(jsonl_out)})
        rows, table, mx = env["rows"], env["table"], env["mx"]
        self.assertEqual(len(rows), self.n)
        want = {"domain": "string", "status": "string", "mail_status": "string",
                "mx_ttl": "Int64", "input_line": "Int64", "rank": "Int64", "cut": "bool",
                "spf_lookups": "Int64", "spf_voids": "Int64", "spf_result": "string",
                "dmarc_policy": "string", "dmarc_source": "string"}
        for col, t in want.items():
            self.assertEqual(str(table[col].dtype), t, col)
        self.assertEqual(str(mx["preference"].dtype), "int64")
        self.assertEqual(len(mx), sum(len(m) for m in rows["mx"]))
        # both agree row by row
        for col in ("domain", "status", "mail_status"):
            self.assertEqual(df[col].tolist(), table[col].tolist(), col)
        self.assertEqual([[c for c in f.split(";") if c] for f in df["findings"]],
                         table["findings"].tolist())
        for col in ("mx_ttl", "spf_lookups", "spf_voids", "rank", "input_line"):
            self.assertEqual(df[col].fillna(-1).tolist(), table[col].fillna(-1).tolist(), col)
        self.assertEqual(df["spf_result"].replace("", pd.NA).fillna("-").tolist(),
                         table["spf_result"].fillna("-").tolist())

    def test_3_resume_keeps_statistics(self):
        # straight at NSD: deterministic answers (no Unbound cache in between)
        opts = ["--format", "jsonl", "--rate", "2000", "--checkpoint-interval", "1"]
        ref, ref_st = os.path.join(self.tmp, "ref.jsonl.zst"), os.path.join(self.tmp, "ref.json")
        t0 = time.monotonic()
        self.scan(LAB["LAB_NSD"], ref, opts + ["--stats", ref_st])
        took = time.monotonic() - t0
        out, st = os.path.join(self.tmp, "i.jsonl.zst"), os.path.join(self.tmp, "i.json")
        p = subprocess.Popen([ARGS.mxscan, "scan", "-q", "-r", LAB["LAB_NSD"], "--allow-address",
                              LAB["LAB_ALLOW"], "-o", out, "--stats", st] + opts + [self.input],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        mxtest.wait_until_scanning(p, out)
        time.sleep(max(0.5, took / 2))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, err.decode()[-2000:])
        self.assertLess(load(st)["domains"], self.n)
        self.scan(LAB["LAB_NSD"], out, opts + ["--stats", st, "--resume"])
        zcat = lambda f: subprocess.run(["zstd", "-dc", f], check=True,  # noqa: E731
                                        stdout=subprocess.PIPE).stdout
        self.assertEqual(zcat(out), zcat(ref))
        a, b = load(ref_st), load(st)
        self.assertTrue(b["resumed"])
        self.validate("stats", b, "resumed statistics")
        self.assertEqual(rows_part(b), rows_part(a))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=11)
    ARGS, rest = ap.parse_known_args()
    r = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if r.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

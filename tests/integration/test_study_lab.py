#!/usr/bin/env python3
"""mxscan stats and mxscan diff on real scans of the loopback lab (NSD,
scripts/lab; scans go straight to NSD so that two scans of the same zones
give the same rows):

1. a 4-shard scan of the lab is disjoint and complete;
2. `mxscan stats` of the 4 shards (with their --stats files) is byte for
   byte the statistics of a one-machine scan, apart from exactly the
   members the README sets aside (SET_ASIDE below); it validates against
   the schema; without the --stats files the run members are null;
3. the README's pandas-shards block loads all shards at once;
4. errors: run statistics that do not match, a file that is no results
   file, no arguments;
5. (diff) see the DiffLab tests.

Needs Debian's python3-pandas, python3-jsonschema and python3-zstandard.

usage: test_study_lab.py --mxscan BIN --source DIR [--size N] [--seed S]
"""
import collections
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402

try:
    import jsonschema
    import pandas  # noqa: F401
    import zstandard  # noqa: F401
except ImportError as e:
    print("%s: %s; run scripts/install-deps (python3-pandas, python3-jsonschema, "
          "python3-zstandard)" % (sys.executable, e))
    sys.exit(1)

# The members of merged statistics that describe the runs (README "mxscan
# stats"): everything else must be byte-identical. "config.shard" is the
# shard line inside config.
SET_ASIDE = ["merged", "started", "ended", "elapsed_seconds", "domains_per_second", "queries",
             "cache", "config.shard"]

LAB = None
TMP = None


def cut_members(text, names):
    """The JSON text (jansson, indent 2) without the lines of the given
    members: top-level 'key' or 'outer.key' (one level down)."""
    lines = text.split("\n")
    out, skip_indent = [], None
    for line in lines:
        if skip_indent is not None:
            ind = len(line) - len(line.lstrip(" "))
            if ind > skip_indent:
                continue
            if line.strip() in ("}", "},", "]", "],"):
                skip_indent = None
                continue
            skip_indent = None
        m = re.match(r'^( *)"([^"]+)": (.*)$', line)
        if m:
            ind, key, rest = len(m.group(1)), m.group(2), m.group(3)
            parent = None
            if ind == 4:
                for prev in reversed(out):
                    pm = re.match(r'^  "([^"]+)": [\[{]$', prev)
                    if pm:
                        parent = pm.group(1)
                        break
            full = key if ind == 2 else "%s.%s" % (parent, key) if ind == 4 else None
            if full in names:
                if rest.rstrip(",") in ("{", "["):
                    skip_indent = ind
                continue
        out.append(line)
    return "\n".join(out)


def scan(out, extra=(), inputs=None, server=None):
    res = mxtest.run(["scan", "-q", "-r", server or LAB.env["LAB_NSD"], "--allow-address",
                      LAB.env["LAB_ALLOW"], "-o", out] + list(extra) +
                     [inputs or LAB.env["LAB_NAMES"]], timeout=600)
    if res.rc != 0:
        raise AssertionError(res.describe())
    return out


def tmp(name):
    return os.path.join(TMP, name)


def setUpModule():
    global LAB, TMP
    TMP = tempfile.mkdtemp(prefix="mxstudy-")
    LAB = mxtest.Lab(tmp("lab"), "127.0.16.1", "127.0.16.2", size=mxtest.ARGS.size,
                     seed=mxtest.ARGS.seed)
    LAB.up()


def tearDownModule():
    if LAB:
        LAB.down()
    subprocess.run(["rm", "-rf", TMP])


class StatsLab(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.one = scan(tmp("one.csv.zst"), ["--stats", tmp("one.json")])
        cls.shards = []
        for i in range(1, 5):
            cls.shards.append(scan(tmp("shard-%d.csv.zst" % i),
                                   ["--shard", "%d/4" % i, "--stats", tmp("shard-%d.json" % i)]))
        with open(os.path.join(mxtest.SOURCE, "datasets", "schema", "stats.schema.json")) as f:
            cls.validator = jsonschema.Draft202012Validator(json.load(f))

    def stats(self, args):
        return mxtest.run(["stats"] + list(args))

    def validate(self, obj):
        errs = ["%s: %s" % (list(e.path), e.message) for e in self.validator.iter_errors(obj)]
        self.assertEqual(errs[:10], [])

    def test_1_shards_disjoint_complete(self):
        _, one = mxtest.read_csv(self.one)
        seen = {}
        for i, path in enumerate(self.shards, 1):
            _, rows = mxtest.read_csv(path)
            self.assertGreater(len(rows), len(one) // 8, "shard %d is nearly empty" % i)
            for r in rows:
                key = (r["input_file"], r["input_line"])
                self.assertNotIn(key, seen, "line in shards %s and %d" % (seen.get(key), i))
                seen[key] = i
        self.assertEqual(set(seen), {(r["input_file"], r["input_line"]) for r in one})
        # a name's copies all land in one shard
        shard_of = collections.defaultdict(set)
        for i, path in enumerate(self.shards, 1):
            for r in mxtest.read_csv(path)[1]:
                shard_of[r["domain"]].add(i)
        self.assertEqual([d for d, s in shard_of.items() if len(s) > 1], [])

    def test_2_merged_equals_one_machine(self):
        order = list(range(4))
        random.Random(7).shuffle(order)
        runs = ",".join(tmp("shard-%d.json" % (i + 1)) for i in order)
        res = self.stats(["--run-stats", runs, "-o", tmp("merged.json")] +
                         [self.shards[i] for i in reversed(order)])
        self.assertEqual(res.rc, 0, res.describe())
        with open(tmp("merged.json")) as f:
            merged_text = f.read()
        with open(tmp("one.json")) as f:
            one_text = f.read()
        merged, one = json.loads(merged_text), json.loads(one_text)
        self.validate(merged)
        # byte-identical apart from SET_ASIDE, and those really were cut
        self.assertEqual(cut_members(merged_text, SET_ASIDE), cut_members(one_text, SET_ASIDE))
        self.assertNotIn('"queries"', cut_members(merged_text, SET_ASIDE))
        kept = cut_members(merged_text, SET_ASIDE)
        for k in ("domains_this_run", "finding_details", "provider_findings", "inputs",
                  "rows_with_cut_text", "input_errors", "config", "resolvers", "format"):
            self.assertIn('"%s"' % k, kept)
        # the run members: summed and marked
        shard_stats = [mxtest.load_stats(tmp("shard-%d.json" % i)) for i in range(1, 5)]
        for part in ("queries", "cache"):
            self.assertEqual(merged[part]["summed_over_files"], 4)
        for k in ("sent", "answered", "retried", "timed_out"):
            self.assertEqual(merged["queries"][k], sum(s["queries"][k] for s in shard_stats), k)
        self.assertEqual(merged["queries"]["rcode"]["NOERROR"],
                         sum(s["queries"]["rcode"]["NOERROR"] for s in shard_stats))
        self.assertEqual(merged["cache"]["hits"], sum(s["cache"]["hits"] for s in shard_stats))
        self.assertEqual(merged["elapsed_seconds"],
                         max(s["elapsed_seconds"] for s in shard_stats))
        self.assertEqual(sorted(merged["config"]["shard"].split(",")),
                         ["1/4", "2/4", "3/4", "4/4"])
        self.assertEqual(merged["started"], min(s["started"] for s in shard_stats))
        self.assertEqual(merged["merged"]["run_stats"], runs.split(","))

    def test_3_without_run_stats(self):
        res = self.stats(self.shards)
        self.assertEqual(res.rc, 0, res.describe())
        merged = json.loads(res.stdout)
        self.validate(merged)
        for k in ("started", "ended", "stop_reason", "resumed", "elapsed_seconds",
                  "domains_this_run", "domains_per_second", "queries", "cache",
                  "rows_with_cut_text", "input_errors", "config"):
            self.assertIsNone(merged[k], k)
        one = mxtest.load_stats(tmp("one.json"))
        for k in ("domains", "status", "mail_status", "findings", "finding_details",
                  "providers", "provider_findings", "dmarc_policy", "inputs"):
            self.assertEqual(merged[k], one[k], k)

    def test_4_jsonl_shard(self):
        """A JSON Lines result gives the same statistics as the CSV one."""
        jl = scan(tmp("one.jsonl.zst"), ["--format", "jsonl", "--shard", "2/4"])
        a, b = self.stats([jl]), self.stats([self.shards[1]])
        self.assertEqual(a.rc, 0, a.describe())
        self.assertEqual(cut_members(a.stdout.decode(), ["merged"]),
                         cut_members(b.stdout.decode(), ["merged"]))

    def test_5_errors(self):
        res = self.stats(["--run-stats", tmp("shard-1.json")] + self.shards[:2])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"--stats files of the scans", res.stderr)
        res = self.stats([LAB.env["LAB_NAMES"]])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"not a results file", res.stderr)
        res = self.stats([tmp("nonexistent.csv")])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"nonexistent.csv", res.stderr)
        for args in ([], ["--bogus", self.shards[0]]):
            res = self.stats(args)
            self.assertEqual(res.rc, 2, res.describe())
            self.assertIn(b"mxscan stats --help", res.stderr)
        res = mxtest.run(["stats", "--help"])
        self.assertEqual(res.rc, 0)
        self.assertIn(b"--run-stats", res.stdout)
        self.assertIn(b"stats RESULTS", mxtest.run(["help"]).stdout)

    def test_6_pandas_shards(self):
        with open(os.path.join(mxtest.SOURCE, "README.md"), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"<!-- pandas-shards:[^>]*-->\s*```python\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "README has no pandas-shards block")
        code = m.group(1)
        self.assertIn('"shard-*.csv.zst"', code)
        code = code.replace('"shard-*.csv.zst"', repr(tmp("shard-*.csv.zst")))
        env = {}
        exec(compile(code, "README:pandas-shards", "exec"), env)  # the documented recipe
        df = env["df"]
        _, one = mxtest.read_csv(self.one)
        self.assertEqual(len(df), len(one))
        self.assertEqual(df["shard"].nunique(), 4)
        self.assertEqual(df["domain"].tolist(), [r["domain"] for r in one])
        self.assertEqual(df["mail_status"].tolist(), [r["mail_status"] for r in one])
        self.assertEqual(str(df["input_line"].dtype), "Int64")


if __name__ == "__main__":
    mxtest.lab_main(size=3000, seed=11)

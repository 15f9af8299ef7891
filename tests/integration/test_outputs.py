#!/usr/bin/env python3
"""Outputs researchers read directly (issue 12), against tests/faultdns:

* JSON Lines (--format jsonl): one object a row, the same rows in the same
  order as the CSV, every CSV column recoverable from the object; file
  names (.jsonl plain, otherwise zstd; '-' plain on stdout);
* input_file and rank columns over several inputs (a rank,domain CSV, a
  plain list, stdin);
* the statistics: distributions, shares among all rows and among domains
  that accept mail, severities, provider x finding, input files, rcodes
  without timeouts, all agreeing with the rows;
* SIGINT then --resume, in both formats: the output is byte-identical to an
  uninterrupted scan's and so are the statistics (the keys that describe
  the run aside); a resume with another --format is refused.

usage: test_outputs.py --mxscan PATH --faultdns PATH [unittest args]
"""
import collections
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402
from mxtest import FaultDNS, TempDirCase, run, run_scan, start_scan  # noqa: E402

ZONE = mxtest.BASE_ZONE + """\
cname.lab.test      CNAME 300 mx1.lab.test
alias.test          MX    300 10 cname.lab.test
half.test           MX    300 10 half.lab.test
half.lab.test       A     300 192.0.2.12
half.lab.test/AAAA  servfail
sfmx.test           MX    300 10 sf.lab.test
sf.lab.test         servfail
lit.test            MX    300 10 192.0.2.1.
lit.test            MX    300 20 mx1.lab.test
dup.test            MX    300 10 mx1.lab.test
dup.test            MX    300 20 mx1.lab.test
gmail.test          MX    300 10 aspmx.l.google.com
aspmx.l.google.com  A     300 192.0.2.40
gmail.test          TXT   300 "v=spf1 include:spf.protection.outlook.com -all"
spf.protection.outlook.com TXT 300 "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc.gmail.test   TXT   300 "v=DMARC1; p=quarantine"
perm.test           MX    300 10 mx1.lab.test
perm.test           TXT   300 "v=spf1 include:nowhere.test -all"
temp.test           MX    300 10 mx1.lab.test
temp.test/TXT       servfail
_dmarc.w.test       TXT   300 "v=DMARC1; p=reject; sp=none"
dead.test           drop
"""

NAMES = ["ok.test", "implicit.test", "nullmx.test", "dangling.test", "private.test",
         "alias.test", "half.test", "sfmx.test", "lit.test", "dup.test", "gmail.test",
         "perm.test", "temp.test", "a1.w.test", "a2.v.test", "nx.test", "bad_name.test",
         "dead.test", "-bad-.test"]
OPTS = ["--timeout", "300", "--retries", "1"]


def accepts(mail):
    return mail in ("ok", "degraded", "implicit")


class Outputs(TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = FaultDNS(ZONE)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def inputs(self):
        """A rank,domain CSV, a plain list, and stdin (the names in thirds)."""
        third = len(NAMES) // 3
        ranked = self.write("top.csv", "rank,domain\n" + "".join(
            "%d,%s\n" % (i + 1, n) for i, n in enumerate(NAMES[:third])))
        plain = self.write("list.txt", "".join(n + "\n" for n in NAMES[third:2 * third]))
        stdin = "".join(n + "\n" for n in NAMES[2 * third:]).encode()
        return [ranked, plain, "-"], stdin, third

    def scan(self, out, fmt, stats=None, extra=()):
        paths, stdin, _ = self.inputs()
        ex = OPTS + ["--format", fmt] + (["--stats", stats] if stats else []) + list(extra)
        res = run_scan(self.dns.addr, out, paths, extra=ex, stdin=stdin)
        self.assertRc(res, 0)
        return res

    def test_jsonl_carries_every_csv_column(self):
        self.scan(self.path("r.csv"), "csv")
        self.scan(self.path("r.jsonl.zst"), "jsonl")
        header, rows = mxtest.read_csv(self.path("r.csv"))
        at = header.index("input_line")
        self.assertEqual(header[at:at + 3], ["input_line", "input_file", "rank"],
                         "the row's origin columns follow input_line")
        self.assertEqual(header[:17], ["domain", "status", "mail_status", "mx", "findings",
                                       "mx_ttl", "mx_addresses", "providers", "spf",
                                       "spf_result", "spf_lookups", "spf_voids",
                                       "spf_providers", "dmarc", "dmarc_policy",
                                       "dmarc_source", "input_line"])
        objs = mxtest.read_jsonl(self.path("r.jsonl.zst"))
        self.assertEqual(len(objs), len(NAMES))
        self.assertEqual(len(rows), len(NAMES))
        for o, r in zip(objs, rows):
            self.assertEqual(mxtest.csv_row_of_json(o), r)
        by = {o["domain"]: o for o in objs}
        # typed values
        self.assertIsInstance(by["ok.test"]["mx_ttl"], int)
        self.assertIsInstance(by["ok.test"]["spf"]["lookups"], int)
        self.assertIsNone(by["implicit.test"]["mx_ttl"])
        self.assertEqual(by["implicit.test"]["implicit_mx"]["lookup"], "ok")
        self.assertEqual(by["ok.test"]["mx"][0],
                         {"preference": 10, "exchange": "mx1.lab.test", "lookup": "ok",
                          "cname": False, "addresses": ["192.0.2.10", "2001:db8::10"],
                          "a": "NOERROR", "aaaa": "NOERROR"})
        alias = by["alias.test"]["mx"][0]
        self.assertTrue(alias["cname"])
        self.assertIn("mx_cname", by["alias.test"]["findings"])
        half = by["half.test"]["mx"][0]
        self.assertEqual((half["lookup"], half["a"], half["aaaa"]), ("ok", "NOERROR", "SERVFAIL"))
        self.assertEqual(by["sfmx.test"]["mx"][0]["lookup"], "lookup_failed")
        self.assertEqual(by["dangling.test"]["mx"][0]["lookup"], "nxdomain")
        self.assertEqual(by["private.test"]["mx"][0]["lookup"], "private")
        self.assertEqual([e["lookup"] for e in by["lit.test"]["mx"]], ["not_looked_up", "ok"])
        self.assertEqual(by["nullmx.test"]["mx"][0]["exchange"], ".")
        self.assertEqual(len(by["dup.test"]["mx"]), 2)
        self.assertEqual(by["gmail.test"]["providers"], ["google"])
        self.assertEqual(by["gmail.test"]["spf"]["providers"], ["microsoft"])
        self.assertEqual(by["temp.test"]["spf"]["result"], "temperror")
        self.assertEqual(by["perm.test"]["spf"]["result"], "permerror")
        self.assertEqual(by["a1.w.test"]["dmarc"],
                         {"record": "v=DMARC1; p=reject; sp=none", "policy": "none",
                          "source": "organizational"})
        self.assertEqual(by["dead.test"]["status"], "TIMEOUT")
        self.assertEqual(by["bad_name.test"]["status"], "INVALID")

    def test_input_file_and_rank(self):
        paths, _, third = self.inputs()
        self.scan(self.path("r.csv"), "csv", stats=self.path("s.json"))
        _, rows = mxtest.read_csv(self.path("r.csv"))
        want_files = [paths[0]] * third + [paths[1]] * third + ["-"] * (len(NAMES) - 2 * third)
        self.assertEqual([r["input_file"] for r in rows], want_files)
        self.assertEqual([r["rank"] for r in rows],
                         [str(i + 1) for i in range(third)] + [""] * (len(NAMES) - third))
        # input_line restarts per file (the CSV's header is line 1)
        self.assertEqual([r["input_line"] for r in rows[:2]], ["2", "3"])
        self.assertEqual(rows[third]["input_line"], "1")
        self.assertEqual(rows[2 * third]["input_line"], "1")
        stats = mxtest.load_stats(self.path("s.json"))
        self.assertEqual(stats["inputs"], [{"path": p, "rows": want_files.count(p)}
                                           for p in paths])

    def test_statistics_agree_with_rows(self):
        self.scan(self.path("r.jsonl"), "jsonl", stats=self.path("s.json"))
        objs = mxtest.read_jsonl(self.path("r.jsonl"))
        st = mxtest.load_stats(self.path("s.json"))
        n = len(objs)
        acc = [o for o in objs if accepts(o["mail_status"])]
        self.assertEqual(st["domains"], n)
        self.assertEqual(st["domains_accepting_mail"], len(acc))
        self.assertGreater(len(acc), 0)
        self.assertLess(len(acc), n)

        def share(k, m):
            return round(k / m, 6) if m else 0.0
        for col, key in (("spf_result", ("spf", "result")), ("dmarc_policy", ("dmarc", "policy")),
                         ("dmarc_source", ("dmarc", "source"))):
            def val(o):
                return o[key[0]][key[1]] or "empty"
            c_all = collections.Counter(val(o) for o in objs)
            c_acc = collections.Counter(val(o) for o in acc)
            self.assertEqual(sum(v["count"] for v in st[col].values()), n, col)
            for v, d in st[col].items():
                self.assertEqual(d["count"], c_all[v], (col, v))
                self.assertEqual(d["count_accepting_mail"], c_acc[v], (col, v))
                self.assertAlmostEqual(d["share"], share(c_all[v], n), places=6)
                self.assertAlmostEqual(d["share_accepting_mail"], share(c_acc[v], len(acc)),
                                       places=6)
            self.assertTrue(set(c_all) <= set(st[col]), (col, c_all))
        self.assertEqual(st["spf_result"]["temperror"]["count"], 1)
        self.assertEqual(st["dmarc_source"]["organizational"]["count"], 1)  # a1.w.test
        sev = {"error": set(), "warn": set(), "info": set()}
        for code, d in st["finding_details"].items():
            with_code = [o for o in objs if code in o["findings"]]
            self.assertEqual(d["count"], len(with_code), code)
            self.assertEqual(d["count"], st["findings"][code], code)
            self.assertEqual(d["count_accepting_mail"],
                             sum(1 for o in with_code if accepts(o["mail_status"])), code)
            self.assertAlmostEqual(d["share"], share(d["count"], n), places=6)
            sev[d["severity"]].add(code)
        self.assertEqual(sorted(st["finding_details"]), sorted(mxtest.FINDING_CODES))
        self.assertIn("mx_cname", sev["error"])
        self.assertIn("spf_missing", sev["warn"])
        self.assertIn("dmarc_none", sev["info"])
        # provider x finding
        pf = collections.defaultdict(collections.Counter)
        for o in objs:
            for p in o["providers"]:
                for f in o["findings"]:
                    pf[p][f] += 1
        self.assertEqual(st["provider_findings"], {p: dict(c) for p, c in pf.items()})
        self.assertIn("provider_mismatch", st["provider_findings"]["google"])
        # rcodes: real ones only; the timeouts of dead.test are counted apart
        q = st["queries"]
        self.assertEqual(sorted(q["rcode"]),
                         sorted(["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR",
                                 "OTHER"]))
        self.assertGreater(q["timed_out"], 0)
        self.assertGreater(q["rcode"]["SERVFAIL"], 0)
        self.assertEqual(sum(q["rcode"].values()), q["answered"])
        self.assertEqual(st["config"]["format"], "jsonl")

    def test_file_names_and_stdout(self):
        self.scan(self.path("plain.jsonl"), "jsonl")
        with open(self.path("plain.jsonl"), "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b'{"domain":'), data[:40])
        self.assertEqual(data.count(b"\n"), len(NAMES))
        self.scan(self.path("z.jsonl.zst"), "jsonl")
        with open(self.path("z.jsonl.zst"), "rb") as f:
            self.assertEqual(f.read(4), b"\x28\xb5\x2f\xfd")
        self.assertEqual(mxtest.decompress(self.path("z.jsonl.zst")), data)
        self.scan(self.path("also.csv"), "jsonl")  # .csv is not .jsonl: compressed
        with open(self.path("also.csv"), "rb") as f:
            self.assertEqual(f.read(4), b"\x28\xb5\x2f\xfd")
        paths, stdin, _ = self.inputs()
        res = run_scan(self.dns.addr, "-", paths, extra=OPTS + ["--format", "jsonl"],
                       stdin=stdin)
        self.assertRc(res, 0)
        self.assertEqual(res.stdout, data)
        res = run(["scan", "--format", "xml", "-o", self.path("x"), paths[1]])
        self.assertRc(res, 2)
        err = res.stderr.decode()
        self.assertIn("--format", err)
        self.assertIn("csv or jsonl", err)
        self.assertEqual(err.count("\n"), 1, err)


# ---- resume ----

N = 8000
RESUME_OPTS = ["--rate", "3000", "--checkpoint-interval", "1", "--timeout", "2000"]


class ResumeOutputs(TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mxoutresume-")
        cls.dns = FaultDNS(ZONE, ["--delay", "10"], workdir=cls.dir)
        fixed = [n for n in NAMES if n != "dead.test"]
        names = [fixed[i % len(fixed)] if i % 7 == 0 else "r%d.w.test" % i for i in range(N)]
        cls.inputs = [os.path.join(cls.dir, "a.csv"), os.path.join(cls.dir, "b.txt")]
        with open(cls.inputs[0], "w") as f:
            f.write("".join("%d,%s\n" % (i + 1, n) for i, n in enumerate(names[:N // 2])))
        with open(cls.inputs[1], "w") as f:
            f.write("".join(n + "\n" for n in names[N // 2:]))

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def resumed_equals_uninterrupted(self, fmt, out_name):
        ref, ref_st = self.path("ref-" + out_name), self.path("ref.json")
        extra = RESUME_OPTS + ["--format", fmt]
        t0 = time.monotonic()
        res = run_scan(self.dns.addr, ref, self.inputs, extra=extra + ["--stats", ref_st])
        self.assertRc(res, 0)
        took = time.monotonic() - t0
        out, st = self.path(out_name), self.path("s.json")
        p = start_scan(self.dns.addr, out, self.inputs, extra=extra + ["--stats", st])
        mxtest.wait_until_scanning(p, out)
        time.sleep(max(0.5, took * 0.4))
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60 * mxtest.timeout_factor())
        self.assertEqual(p.returncode, 130, err.decode()[-2000:])
        partial = mxtest.load_stats(st)
        self.assertEqual(partial["stop_reason"], "interrupted")
        self.assertLess(partial["domains"], N, "the scan ended before the signal")
        # another format is refused (usage error) while the scan is interrupted
        other = "csv" if fmt == "jsonl" else "jsonl"
        with open(out, "rb") as f:
            before = f.read()
        res = run_scan(self.dns.addr, out, self.inputs,
                       extra=RESUME_OPTS + ["--format", other, "--resume"])
        self.assertRc(res, 2)
        self.assertIn("format", res.stderr.decode("utf-8", "replace"))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), before, "a refused resume changed the output")
        res = run_scan(self.dns.addr, out, self.inputs,
                       extra=extra + ["--stats", st, "--resume"])
        self.assertRc(res, 0)
        self.assertEqual(mxtest.decompress(out), mxtest.decompress(ref),
                         "the resumed output differs from the uninterrupted scan's")
        a, b = mxtest.load_stats(ref_st), mxtest.load_stats(st)
        self.assertTrue(b["resumed"])
        self.assertLess(b["domains_this_run"], N)
        self.assertEqual(mxtest.stats_of_rows(b), mxtest.stats_of_rows(a))
        self.assertEqual(a["inputs"], [{"path": self.inputs[0], "rows": N // 2},
                                       {"path": self.inputs[1], "rows": N - N // 2}])

    def test_csv_resume_keeps_the_statistics(self):
        self.resumed_equals_uninterrupted("csv", "o.csv.zst")

    def test_jsonl_resume_keeps_the_statistics(self):
        self.resumed_equals_uninterrupted("jsonl", "o.jsonl.zst")


if __name__ == "__main__":
    mxtest.main()

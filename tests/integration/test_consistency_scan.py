#!/usr/bin/env python3
"""`mxscan scan --checks mx,consistency` and `mxscan check` against the
consistency lab (scripts/lab.d/conslab.py: NSD instances serving different
versions of the same zones on 127.0.40.0/24, a server that refuses, one
without AA, one with nothing listening, one that never answers, NS names
without address, one outside the allow list; Unbound for the NS and address
look-ups). Checks:

  1. every row of a scan of the lab's domains (every bulk domain twice)
     agrees exactly with the lab's ground truth: the ns_* findings and the
     ns_servers, ns_mx_sets and ns_serials columns (JSON Lines, valid against
     the row schema); the statistics count each code as the rows do; at the
     servers (dnstap): RD clear, no identical question twice, exactly the
     questions the truth implies;
  2. a CSV scan of many domains on three servers with --auth-qps 10: the
     columns agree with the truth, each server sees every question once and
     at most 10 (+2 for the pacer's edge and the receipt times) a second;
  3. `mxscan check` of an inconsistent domain names every server and what
     it said (state, MX set, serial);
  4. liveness: a scan whose domains have a server that never answers ends in
     a bounded time with the default timeouts;
  5. without the check nothing is asked of the servers and no ns_* finding
     or column appears; an interrupted consistency scan resumes to the same
     rows and refuses other --auth-timeout settings.

Usage: test_consistency_scan.py --mxscan PATH --source DIR --workdir DIR
Exit 77 (skip) when the lab cannot run here (not root, NSD missing).
"""
import collections
import json
import os
import signal
import sys
import time
import unittest

import conslabtest
import mxtest

WORK = None
L = {}
TRUTH = {}
NS_CODES = ["ns_mx_inconsistent", "ns_serial_mismatch", "ns_lame"]
COLUMNS = ["ns_servers", "ns_mx_sets", "ns_serials"]
FAST = ["--auth-timeout", "500", "--auth-tries", "2"]
BULK = 40


def ns_findings(codes):
    """The consistency codes among codes, in the SPEC's order."""
    return [c for c in mxtest.CODE_ORDER if c in NS_CODES and c in codes]


def over_budget(o):
    """A domain whose exchanges alone take the look-ups one domain may hold
    (MX_HELD_MAX): its row is cut and consistency cannot be judged."""
    return o["cut"] and len(o["mx"]) > 40


class ConsistencyScan(mxtest.TempDirCase):

    def scan(self, names, out, extra=(), stats=None, timeout=300):
        inp = self.write("names-%d.txt" % len(os.listdir(self.tmp)), "\n".join(names) + "\n")
        args = ["--checks", "mx,consistency"] + list(extra)
        if stats:
            args += ["--stats", stats]
        res = mxtest.run_scan(L["resolver"], out, [inp], extra=args, allow=L["allow"],
                              timeout=timeout)
        self.assertRc(res, 0)
        return res

    def agree(self, domain, findings, cols):
        """Exact agreement of one row (its ns_* findings and columns) with the truth."""
        e = TRUTH[domain]
        self.assertEqual(ns_findings(findings), ns_findings(e["findings"]), domain)
        for c in COLUMNS:
            self.assertEqual(cols[c], e[c], "%s %s" % (domain, c))

    def test_1_scan_agrees_with_truth(self):
        cases = sorted(d for d in TRUTH if not d.startswith(("bulk", "rate")))
        bulk = sorted(d for d in TRUTH if d.startswith("bulk"))
        names = cases + bulk + list(reversed(bulk))
        out, st = self.path("out.jsonl"), self.path("stats.json")
        t0 = time.time()
        self.scan(names, out, FAST + ["--format", "jsonl", "--auth-qps", "40"], stats=st)
        objs = mxtest.read_jsonl(out)
        self.assertEqual([o["domain"] for o in objs], names)
        with open(os.path.join(mxtest.SOURCE, "datasets", "schema", "row.schema.json")) as f:
            schema = json.load(f)
        import jsonschema
        judged, over = set(), set()
        for o in objs:
            jsonschema.validate(o, schema)
            row = mxtest.csv_row_of_json(o)
            if over_budget(o):
                # judged or not, depending on which answer came first; what
                # is there is the truth, cut at the row's 8 KiB
                over.add(o["domain"])
                self.assertEqual(ns_findings(o["findings"]), ns_findings(TRUTH[o["domain"]]["findings"]))
                for c in COLUMNS:
                    self.assertTrue(TRUTH[o["domain"]][c].startswith(row[c]), o["domain"])
                continue
            self.agree(o["domain"], o["findings"], row)
            judged.add(o["domain"])
        self.assertGreater(len(judged), len(cases) - 2)
        # the statistics count every code as the rows do, the truth's ns_* codes
        stats = mxtest.load_stats(st)
        seen = collections.Counter(f for o in objs for f in o["findings"])
        for c in mxtest.FINDING_CODES:
            self.assertEqual(stats["findings"][c], seen[c], c)
        want = collections.Counter(f for d in names if d in judged for f in TRUTH[d]["findings"])
        for c in NS_CODES:
            self.assertGreater(want[c], 0, c)
            self.assertEqual(stats["findings"][c], want[c], c)
        print("ns_* findings (stats = rows = truth): %s"
              % {c: stats["findings"][c] for c in NS_CODES})
        # what reached the servers
        name_of = {v["address"]: k for k, v in L["servers"].items()}
        expect = conslabtest.expected_questions(TRUTH, judged, name_of)
        conslabtest.settle(L["dnstap"], want=len(expect))
        q = conslabtest.module_queries(L, t0)
        self.assertTrue(q and all(not r["rd"] for r in q), "RD set, or no question at all")
        udp, _ = conslabtest.udp_question_counts(q)
        self.assertEqual({k: n for k, n in udp.items() if n > 1}, {}, "asked twice")
        self.assertEqual({k for k in udp if k[1] not in over}, expect)
        self.assertLessEqual({k for k in udp if k[1] in over},
                             conslabtest.expected_questions(TRUTH, over, name_of))
        print("%d rows agree with the truth, %d cut (over the look-up budget): %s; %d questions"
              " at the servers" % (len(judged), len(over), sorted(over), len(udp)))

    def test_2_per_server_cap(self):
        rate = sorted(d for d in TRUTH if d.startswith("rate"))
        out = self.path("rate.csv")
        t0 = time.time()
        self.scan(rate, out, FAST + ["--auth-qps", "10", "--auth-global-qps", "1000"])
        header, rows = mxtest.read_csv(out)
        # right after the SMTP probe's column (later opt-in checks' columns follow)
        at = header.index("smtp") + 1
        self.assertEqual(header[at:at + 3], COLUMNS)
        for r in rows:
            self.agree(r["domain"], mxtest.finding_list(r), r)
        conslabtest.settle(L["dnstap"])
        q = conslabtest.module_queries(L, t0)
        for name in ("ns1", "ns2", "ns4"):
            times = [r["t"] for r in q if r["id"] == name]
            peak = conslabtest.max_per_second(times)
            span = max(times) - min(times) if times else 0
            print("--auth-qps 10: %s got %d queries over %.1f s, at most %d in one second"
                  % (name, len(times), span, peak))
            self.assertEqual(len(times), 2 * len(rate), name)
            # the pacer allows 10 + 1 in any second of send times; one more
            # for the spread between sending and the server's receipt
            self.assertLessEqual(peak, 10 + 2, name)
            self.assertGreaterEqual(span, (len(times) - 1) / 10 * 0.9, name)

    def test_3_check_names_each_server(self):
        d = "mixed.test"
        res = mxtest.run(["check", "-r", L["resolver"], "--allow-address", L["allow"],
                          "--checks", "mx,consistency", "--color", "never"] + FAST + [d])
        self.assertIn(res.rc, (0, 4), res.describe())
        text = res.stdout.decode()
        lines = text.splitlines()
        e = TRUTH[d]
        set_of = {a: s for s, m in (g.rsplit("@", 1) for g in e["ns_mx_sets"].split(";"))
                  for a in m.split(",")}
        serial_of = {a: s for s, m in (g.split("@") for g in e["ns_serials"].split(";"))
                     for a in m.split(",")}
        for part in e["ns_servers"].split(";"):
            name, addrs = part.split("=", 1)
            for a in addrs.split(","):
                ip, state = a.split(" ")
                mine = [l.strip() for l in lines if l.strip().startswith("%s %s: " % (name, ip))]
                self.assertEqual(len(mine), 1, "%s %s in:\n%s" % (name, ip, text))
                if state == "auth":
                    self.assertIn("auth; MX %s (NOERROR, AA); SOA serial %s (NOERROR, AA)"
                                  % (set_of[ip], serial_of[ip]), mine[0])
                else:
                    self.assertIn("lame (%s)" % state, mine[0])
        for c in ns_findings(e["findings"]):
            self.assertIn(c, text)
        self.assertIn("here: " + e["ns_mx_sets"], text)

    def test_4_silent_server_bounded(self):
        names = [d for d in sorted(TRUTH) if "127.0.40.18" in TRUTH[d]["ns_servers"]]
        self.assertGreaterEqual(len(names), 2)
        out = self.path("silent.csv")
        t = time.monotonic()
        self.scan(names, out, timeout=120)  # default --auth-timeout 2000, --auth-tries 3
        elapsed = time.monotonic() - t
        _, rows = mxtest.read_csv(out)
        for r in rows:
            self.agree(r["domain"], mxtest.finding_list(r), r)
            self.assertIn("127.0.40.18 timeout", r["ns_servers"])
        print("a server that never answers: %d domains in %.1f s (3 tries of 2 s)"
              % (len(rows), elapsed))
        self.assertLess(elapsed, 30 * mxtest.timeout_factor())

    def test_5_off_by_default_and_resume(self):
        cases = sorted(d for d in TRUTH if not d.startswith(("bulk", "rate")))
        out = self.path("plain.csv")
        t0 = time.time()
        inp = self.write("cases.txt", "\n".join(cases) + "\n")
        res = mxtest.run_scan(L["resolver"], out, [inp], extra=["--checks", "mx"],
                              allow=L["allow"])
        self.assertRc(res, 0)
        _, rows = mxtest.read_csv(out)
        for r in rows:
            self.assertEqual(ns_findings(mxtest.finding_list(r)), [], r["domain"])
            self.assertEqual([r[c] for c in COLUMNS], ["", "", ""], r["domain"])
        conslabtest.settle(L["dnstap"])
        self.assertEqual(conslabtest.module_queries(L, t0), [], "asked without --checks")
        # an interrupted consistency scan (paced at 5 q/s: slow) resumes
        rate = sorted(d for d in TRUTH if d.startswith("rate"))
        inp = self.write("rate.txt", "\n".join(rate) + "\n")
        out = self.path("resumed.csv.zst")
        opts = ["--checks", "mx,consistency", "--auth-qps", "5"] + FAST
        p = mxtest.start_scan(L["resolver"], out, [inp], extra=opts + ["--checkpoint-interval", "1"],
                              allow=L["allow"])
        time.sleep(4)
        p.send_signal(signal.SIGINT)
        _, err = mxtest.wait_or_fail(self, p, 30, "the scan did not stop after SIGINT")
        self.assertEqual(p.returncode, 130, err)
        other = opts[:-4] + ["--auth-timeout", "700", "--auth-tries", "2", "--resume"]
        res = mxtest.run_scan(L["resolver"], out, [inp], extra=other, allow=L["allow"])
        self.assertNotEqual(res.rc, 0, "resume with another --auth-timeout accepted")
        self.assertIn("resume", res.stderr.decode().lower())
        res = mxtest.run_scan(L["resolver"], out, [inp], extra=opts + ["--resume"],
                              allow=L["allow"], timeout=300)
        self.assertRc(res, 0)
        _, rows = mxtest.read_csv(out)
        self.assertEqual([r["domain"] for r in rows], rate)
        for r in rows:
            self.agree(r["domain"], mxtest.finding_list(r), r)


def main():
    global WORK, L, TRUTH
    ap = mxtest.arg_parser()
    ap.add_argument("--workdir", required=True)
    args = mxtest.parse_args(need=("mxscan",), parser=ap)
    WORK = os.path.abspath(args.workdir)
    up = conslabtest.lab(args.source, "up", WORK, "--bulk", str(BULK))
    if up.returncode == 3:
        print("SKIP: " + up.stderr.strip())
        return 77
    if up.returncode != 0:
        print(up.stdout, up.stderr)
        conslabtest.lab(args.source, "down", WORK)
        return 1
    try:
        with open(os.path.join(WORK, "lab.json")) as f:
            L.update(json.load(f))
        with open(os.path.join(WORK, "truth.json")) as f:
            TRUTH.update(json.load(f))
        prog = unittest.main(verbosity=2, exit=False)
        ok = prog.result.wasSuccessful()
    finally:
        down = conslabtest.lab(args.source, "down", WORK)
        if down.returncode != 0:
            print(down.stdout, down.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

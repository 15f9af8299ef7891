#!/usr/bin/env python3
"""Scan the loopback lab (real NSD + Unbound, scripts/lab) and require exact
agreement with the generator's independent ground truth on every row:
domain, status, mail_status and findings. Through Unbound (the way studies
deploy) and straight at NSD (names behind lame delegations excepted, their
truth only holds through a recursive resolver). On a mismatch it prints a
per-code table of expected vs found and the first differing rows.

usage: test_lab_scan.py --mxscan BIN [--source DIR] [--size N] [--seed S]
"""
import collections
import ipaddress
import json
import os
import random
import shutil
import tempfile
import unittest

import mxtest

LAB = None    # the running mxtest.Lab


def scan(resolver, out, stats, extra=()):
    res = mxtest.run_scan(resolver, out, [LAB.env["LAB_NAMES"]], allow=LAB.env["LAB_ALLOW"],
                          extra=["--rate", "0", "--stats", stats, *extra], timeout=600)
    if res.rc != 0:
        raise AssertionError(res.describe())
    return mxtest.read_csv(out)[1]


def compare(truth, rows, skip=frozenset()):
    """Returns a report string, empty when every row agrees."""
    if len(truth) != len(rows):
        return "row count: truth %d, scan %d" % (len(truth), len(rows))
    exp, got = collections.Counter(), collections.Counter()
    diffs = []
    for t, r in zip(truth, rows):
        if t["domain"] in skip:
            continue
        exp.update(mxtest.finding_list(t))
        got.update(mxtest.finding_list(r))
        keys = ("domain", "status", "mail_status", "findings")
        if any(t[k] != r[k] for k in keys):
            diffs.append((t, r))
    if not diffs:
        return ""
    lines = ["%d rows differ" % len(diffs), "%-28s %8s %8s" % ("code", "expected", "found")]
    for c in sorted(set(exp) | set(got)):
        mark = "" if exp[c] == got[c] else "   <--"
        lines.append("%-28s %8d %8d%s" % (c, exp[c], got[c], mark))
    for t, r in diffs[:15]:
        lines.append("- %s\n    truth: %s %s %s\n    scan:  %s %s %s | mx=%s | spf=%s | dmarc=%s"
                     % (t["domain"][:80], t["status"], t["mail_status"], t["findings"],
                        r["status"], r["mail_status"], r["findings"], r["mx"], r["spf"],
                        r["dmarc"]))
    return "\n".join(lines)


def load_zones(zdir):
    """{(owner, TYPE): (ttl, [rdata...])} from the lab's zone files
    ("name. ttl IN TYPE rdata" lines)."""
    recs = {}
    for fn in os.listdir(zdir):
        if not fn.endswith(".zone"):
            continue
        for line in open(os.path.join(zdir, fn), encoding="utf-8"):
            parts = line.split(None, 4)
            if len(parts) < 5 or parts[2] != "IN" or not parts[1].isdigit():
                continue
            owner = parts[0].rstrip(".").lower()
            ttl, rtype, rdata = int(parts[1]), parts[3], parts[4].strip()
            old = recs.setdefault((owner, rtype), (ttl, []))
            old[1].append(rdata)
            recs[(owner, rtype)] = (min(old[0], ttl), old[1])
    return recs


def compare_zone_data(rows, zones):
    """The mx column, mx_ttl and the addresses of plainly addressed
    exchanges must equal the zone data. Returns (MX sets checked, address
    sets checked, problems)."""
    problems, checked, addr_checked = [], 0, 0
    for r in rows:
        if r["status"] != "NOERROR" or not r["mx"]:
            continue
        z = zones.get((r["domain"], "MX"))
        if not z:
            continue  # served outside the zone files (e.g. a wildcard)
        want = sorted("%s %s" % (d.split()[0], d.split()[1].rstrip(".").lower() or ".")
                      for d in z[1])
        got = sorted(r["mx"].split(";"))
        checked += 1
        if got != want:
            problems.append("%s: mx %s, zone %s" % (r["domain"], got, want))
        if r["mx_ttl"] != str(z[0]):
            problems.append("%s: mx_ttl %s, zone %s" % (r["domain"], r["mx_ttl"], z[0]))
        for entry in filter(None, r["mx_addresses"].split(";")):
            ex, _, addrs = entry.partition("=")
            if ">" in ex or (ex, "CNAME") in zones or ex == "localhost":
                continue  # aliases, and names Unbound answers itself
            have = set()
            for a in addrs.split(","):
                try:
                    have.add(str(ipaddress.ip_address(a)))
                except ValueError:
                    pass  # an outcome (NXDOMAIN, NODATA ...) or "AAAA:SERVFAIL"
            if not have:
                continue
            zone_addrs = set(zones.get((ex, "A"), (0, []))[1]) | set(
                str(ipaddress.ip_address(x)) for x in zones.get((ex, "AAAA"), (0, []))[1])
            addr_checked += 1
            if have != zone_addrs:
                problems.append("%s: %s addresses %s, zone %s" % (r["domain"], ex, sorted(have),
                                                                 sorted(zone_addrs)))
    return checked, addr_checked, problems


class LabScan(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        global LAB
        cls.tmp = tempfile.mkdtemp(prefix="mxlab-")
        LAB = mxtest.Lab(os.path.join(cls.tmp, "lab"), "127.0.0.61", "127.0.0.62",
                         size=mxtest.ARGS.size, seed=mxtest.ARGS.seed)
        LAB.up()
        cls.truth = LAB.truth()
        assert len(cls.truth) == mxtest.ARGS.size, "truth.csv has %d rows" % len(cls.truth)

    @classmethod
    def tearDownClass(cls):
        LAB.down()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_unbound_exact_agreement(self):
        out, st = os.path.join(self.tmp, "u.csv.zst"), os.path.join(self.tmp, "u.json")
        rows = scan(LAB.env["LAB_RESOLVER"], out, st)
        stats = mxtest.load_stats(st)
        report = compare(self.truth, rows)
        self.assertEqual(report, "", "\n" + report + "\nqueries: " + json.dumps(stats["queries"]))
        # MX sets, TTLs and exchange addresses are the zone data.
        checked, addr_checked, problems = compare_zone_data(rows, load_zones(LAB.path("zones")))
        self.assertGreater(checked, len(rows) // 2)
        self.assertGreater(addr_checked, checked // 2)
        self.assertEqual(problems[:20], [], "%d rows disagree with the zones" % len(problems))
        # Every code of the default checks occurs in the lab; the opt-in
        # checks' codes (SMTP, MTA-STS, TLS-RPT, DANE, consistency) are not
        # made by a default scan, so none of them may appear.
        seen = collections.Counter(f for r in rows for f in mxtest.finding_list(r))
        for c in mxtest.DEFAULT_CODES:
            self.assertGreater(seen[c], 0, "lab has no %s row" % c)
        for c in mxtest.OPT_IN_CODES:
            self.assertEqual(seen[c], 0, "a default scan reported the opt-in code %s" % c)
        # The statistics agree with the rows, and list every code of the table.
        self.assertEqual(stats["domains"], len(rows))
        self.assertEqual(list(stats["findings"]), mxtest.FINDING_CODES)
        for c in mxtest.FINDING_CODES:
            self.assertEqual(stats["findings"][c], seen[c], c)
        ms = collections.Counter(r["mail_status"] for r in rows)
        self.assertEqual(sorted(stats["mail_status"]), sorted(mxtest.MAIL_STATUSES))
        for k, v in stats["mail_status"].items():
            self.assertEqual(v, ms[k], k)
        self.assertEqual(stats["queries"]["timed_out"], 0)
        self.assertGreater(stats["cache"]["hits"] + stats["cache"]["inflight_joins"], 0)

    def test_2_nsd_direct_agreement(self):
        skip = LAB.recursive_only()
        self.assertGreater(len(skip), 0, "recursive-only.txt lists no name (lame scenarios?)")
        out, st = os.path.join(self.tmp, "n.csv"), os.path.join(self.tmp, "n.json")
        rows = scan(LAB.env["LAB_NSD"], out, st, ["--timeout", "1000"])
        report = compare(self.truth, rows, skip)
        self.assertEqual(report, "", "\n" + report + "\nqueries: " +
                         json.dumps(mxtest.load_stats(st)["queries"]))

    def test_3_check_command(self):
        rng = random.Random(mxtest.ARGS.seed)
        by_mail = collections.defaultdict(list)
        for t in self.truth:
            if t["status"] != "INVALID":
                by_mail[t["mail_status"]].append(t)
        picks = [rng.choice(v) for k, v in sorted(by_mail.items())]
        self.assertEqual(sorted(by_mail), sorted(set(mxtest.MAIL_STATUSES) - {"invalid"}))
        for t in picks:
            res = mxtest.run(["check", "--color", "never", "-r", LAB.env["LAB_RESOLVER"],
                              "--allow-address", LAB.env["LAB_ALLOW"], t["domain"]], timeout=120)
            text = res.stdout.decode()
            self.assertIn("mail status: %s " % t["mail_status"], text, text)
            shown = (text.replace("    error ", "  ").replace("    warn  ", "  ")
                     .replace("    info  ", "  "))
            for f in mxtest.finding_list(t):
                self.assertIn("  " + f + "\n", shown, text)
            has_error = any(f in mxtest.ERROR_CODES for f in mxtest.finding_list(t))
            self.assertEqual(res.rc, 4 if has_error else 0, text)


if __name__ == "__main__":
    mxtest.lab_main(size=20000, seed=3)

#!/usr/bin/env python3
"""Scan the loopback lab (real NSD + Unbound, scripts/lab) and require exact
agreement with the generator's independent ground truth on every row:
domain, status, mail_status and findings. Through Unbound (the way studies
deploy) and straight at NSD (names behind lame delegations excepted, their
truth only holds through a recursive resolver). On a mismatch it prints a
per-code table of expected vs found and the first differing rows.

usage: test_lab_scan.py --mxscan BIN --source DIR [--size N] [--seed S]
"""
import argparse
import collections
import csv
import ipaddress
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

ARGS = None
LAB = {}

# SPEC section 2: the stable interface.
CODES = """domain_invalid_name domain_nxdomain domain_lookup_failed mx_none_implicit
mx_none_no_mail mx_null mx_null_mixed mx_ip_literal mx_target_invalid mx_origin_appended
mx_localhost mx_cname mx_nxdomain mx_no_address mx_lookup_failed mx_private_address
mx_all_unusable mx_duplicate mx_pref_all_equal mx_backup_preferred mx_same_addresses
mx_ttl_high spf_missing spf_multiple spf_syntax spf_include_broken spf_lookup_limit
spf_void_limit spf_pass_all spf_no_enforcement spf_mx_not_covered dmarc_missing
dmarc_invalid dmarc_none dmarc_enforced_without_spf provider_mismatch smtp_unreachable
smtp_host_unreachable smtp_rejects_domain smtp_no_starttls""".split()
ERRORS = {"domain_invalid_name", "mx_null_mixed", "mx_ip_literal", "mx_target_invalid",
          "mx_origin_appended", "mx_localhost", "mx_cname", "mx_nxdomain", "mx_no_address",
          "mx_private_address", "mx_all_unusable", "spf_multiple", "spf_syntax",
          "spf_include_broken", "spf_lookup_limit", "spf_void_limit", "spf_pass_all",
          "dmarc_invalid", "smtp_unreachable", "smtp_rejects_domain"}


def read_rows(path):
    if path.endswith(".zst"):
        text = subprocess.run(["zstd", "-dc", path], check=True,
                              stdout=subprocess.PIPE).stdout.decode("utf-8")
    else:
        text = open(path, encoding="utf-8").read()
    return list(csv.DictReader(text.splitlines()))


def scan(resolver, names, out, stats, extra=()):
    cmd = [ARGS.mxscan, "scan", "-q", "-r", resolver, "--allow-address", LAB["LAB_ALLOW"],
           "--rate", "0", "-o", out, "--stats", stats, *extra, names]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if p.returncode != 0:
        raise AssertionError("mxscan exit %d: %s" % (p.returncode, p.stderr.decode()[-2000:]))
    return read_rows(out)


def compare(truth, rows, skip=frozenset()):
    """Returns a report string, empty when every row agrees."""
    if len(truth) != len(rows):
        return "row count: truth %d, scan %d" % (len(truth), len(rows))
    exp, got = collections.Counter(), collections.Counter()
    diffs = []
    for t, r in zip(truth, rows):
        if t["domain"] in skip:
            continue
        for f in filter(None, t["findings"].split(";")):
            exp[f] += 1
        for f in filter(None, r["findings"].split(";")):
            got[f] += 1
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
    exchanges must equal the zone data. Returns (checked, problems)."""
    problems, checked = [], 0
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
            if not zone_addrs:
                continue
            if have != zone_addrs:
                problems.append("%s: %s addresses %s, zone %s" % (r["domain"], ex, sorted(have),
                                                                 sorted(zone_addrs)))
    return checked, problems


class LabScan(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxlab-")
        port = 20000 + (os.getpid() % 20000)
        cls.labdir = os.path.join(cls.tmp, "lab")
        cmd = [os.path.join(ARGS.source, "scripts", "lab"), "up", cls.labdir,
               "--size", str(ARGS.size), "--seed", str(ARGS.seed),
               "--nsd-addr", "127.0.0.61", "--nsd-port", str(port),
               "--unbound-addr", "127.0.0.62", "--unbound-port", str(port + 1)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=600)
        for line in open(os.path.join(cls.labdir, "lab.env")):
            k, _, v = line.strip().partition("=")
            LAB[k] = v.strip("'")
        cls.truth = list(csv.DictReader(open(LAB["LAB_TRUTH"], encoding="utf-8")))

    @classmethod
    def tearDownClass(cls):
        subprocess.run([os.path.join(ARGS.source, "scripts", "lab"), "down", cls.labdir],
                       stdout=subprocess.DEVNULL, timeout=120)

    def test_1_unbound_exact_agreement(self):
        out, st = os.path.join(self.tmp, "u.csv.zst"), os.path.join(self.tmp, "u.json")
        rows = scan(LAB["LAB_RESOLVER"], LAB["LAB_NAMES"], out, st)
        report = compare(self.truth, rows)
        self.assertEqual(report, "", "\n" + report + "\nqueries: " +
                         json.dumps(json.load(open(st))["queries"]))
        # MX sets, TTLs and exchange addresses are the zone data.
        checked, problems = compare_zone_data(rows, load_zones(os.path.join(self.labdir, "zones")))
        self.assertGreater(checked, len(rows) // 2)
        self.assertEqual(problems[:20], [], "%d rows disagree with the zones" % len(problems))
        # Every code of the SPEC (but the SMTP probe's) occurs in the lab.
        seen = collections.Counter(f for r in rows for f in filter(None, r["findings"].split(";")))
        for c in CODES:
            if not c.startswith("smtp_"):
                self.assertGreater(seen[c], 0, "lab has no %s row" % c)
        # The statistics agree with the rows.
        stats = json.load(open(st))
        self.assertEqual(stats["domains"], len(rows))
        self.assertEqual(sorted(stats["findings"]), sorted(CODES))
        for c in CODES:
            self.assertEqual(stats["findings"][c], seen[c], c)
        ms = collections.Counter(r["mail_status"] for r in rows)
        for k, v in stats["mail_status"].items():
            self.assertEqual(v, ms[k], k)
        self.assertEqual(stats["queries"]["timed_out"], 0)
        self.assertGreater(stats["cache"]["hits"] + stats["cache"]["inflight_joins"], 0)

    def test_2_nsd_direct_agreement(self):
        skip = set()
        ro = LAB.get("LAB_RECURSIVE_ONLY")
        if ro and os.path.exists(ro):
            skip = {l.strip() for l in open(ro, encoding="utf-8") if l.strip()}
        out, st = os.path.join(self.tmp, "n.csv"), os.path.join(self.tmp, "n.json")
        rows = scan(LAB["LAB_NSD"], LAB["LAB_NAMES"], out, st, ["--timeout", "1000"])
        report = compare(self.truth, rows, skip)
        self.assertEqual(report, "", "\n" + report + "\nqueries: " +
                         json.dumps(json.load(open(st))["queries"]))

    def test_3_check_command(self):
        rng = random.Random(ARGS.seed)
        by_mail = collections.defaultdict(list)
        for t in self.truth:
            if t["status"] != "INVALID":
                by_mail[t["mail_status"]].append(t)
        picks = [rng.choice(v) for k, v in sorted(by_mail.items())]
        for t in picks:
            p = subprocess.run([ARGS.mxscan, "check", "--color", "never", "-r",
                                LAB["LAB_RESOLVER"], "--allow-address", LAB["LAB_ALLOW"],
                                t["domain"]], stdout=subprocess.PIPE, timeout=120)
            text = p.stdout.decode()
            self.assertIn("mail status: %s " % t["mail_status"], text, text)
            for f in filter(None, t["findings"].split(";")):
                self.assertIn("  " + f + "\n", text.replace("    error ", "  ")
                              .replace("    warn  ", "  ").replace("    info  ", "  "), text)
            has_error = any(f in ERRORS for f in t["findings"].split(";"))
            self.assertEqual(p.returncode, 4 if has_error else 0, text)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=3)
    ARGS, rest = ap.parse_known_args()
    for tool in ("nsd", "unbound"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in ("/usr/sbin", "/usr/bin", "/sbin")):
            print("%s not installed: run scripts/install-deps" % tool)
            return 1
    r = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if r.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

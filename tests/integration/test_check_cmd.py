#!/usr/bin/env python3
"""`mxscan check` output compared with expected text (tests/data/check),
its exit status, and `mxscan spf` (check_host result, deciding term, ptr,
%{p}, exp= explanations, malformed identities; a scan uses PTR data but
never fetches explanations)."""
import os
import unittest

import mxtest

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "check")
ALLOW = "198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48"


class CheckCmd(mxtest.TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = mxtest.FaultDNS(open(os.path.join(DATA, "zone.txt")).read())

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def check(self, *names):
        return mxtest.run(["check", "--color", "never", "-r", self.dns.addr,
                           "--allow-address", ALLOW, *names])

    def test_golden_text(self):
        names = ["ok.test", "dangling.test", "implicit.test", "null.test",
                 "google-only.test", "nx.test", "bad_name"]
        res = self.check(*names)
        got = res.stdout.decode()
        if os.environ.get("MX_UPDATE_GOLDEN"):  # after a reviewed change of the text
            open(os.path.join(DATA, "expected.txt"), "w").write(got)
        want = open(os.path.join(DATA, "expected.txt")).read()
        self.assertEqual(got, want)
        self.assertEqual(res.rc, 4, res.describe())  # errors among them

    def test_exit_status(self):
        self.assertEqual(self.check("ok.test").rc, 0)
        self.assertEqual(self.check("implicit.test", "null.test").rc, 0)  # warn/info only
        self.assertEqual(self.check("dangling.test").rc, 4)
        self.assertEqual(mxtest.run(["check"]).rc, 2)

    def test_color_only_when_asked(self):
        plain = self.check("dangling.test").stdout
        self.assertNotIn(b"\x1b[", plain)
        col = mxtest.run(["check", "--color", "always", "-r", self.dns.addr,
                          "--allow-address", ALLOW, "dangling.test"]).stdout
        self.assertIn(b"\x1b[1;31m", col)

    def spf(self, domain, ip, *extra):
        return mxtest.run(["spf", domain, "--ip", ip, "-r", self.dns.addr, *extra])

    def test_spf_command(self):
        r = self.spf("ok.test", "198.51.100.2")
        self.assertEqual(r.rc, 0, r.describe())
        out = r.stdout.decode()
        r = self.spf("ok.test", "192.0.2.99")
        self.assertEqual(r.rc, 10, r.describe())
        self.assertEqual(self.spf("implicit.test", "198.51.100.9").rc, 13)
        self.assertIn("check_host(198.51.100.2, ok.test, postmaster@ok.test) = pass", out)
        self.assertIn("decided by: mx", out)
        out = self.spf("ok.test", "192.0.2.99").stdout.decode()
        self.assertIn("= fail", out)
        self.assertIn("decided by: -all", out)
        out = self.spf("google-only.test", "203.0.113.7", "--sender", "a@b.test").stdout.decode()
        self.assertIn("check_host(203.0.113.7, google-only.test, a@b.test) = pass", out)
        self.assertIn("include:spf.protection.outlook.com", out)
        out = self.spf("implicit.test", "198.51.100.9").stdout.decode()
        self.assertIn("= none", out)
        self.assertEqual(self.spf("ok.test", "not-an-ip").rc, 2)


# RFC 7208 against faultdns: ptr and %{p}, exp=, macro escapes in a name,
# malformed identities; and that a scan uses ptr but never fetches exp=.
SPF_ZONE = r"""
ptr.test TXT 300 "v=spf1 ptr -all exp=exp.ptr.test"
exp.ptr.test TXT 300 "%{c} is not %{d}'s (PTR name: %{p}; sender %{l})"
3.100.51.198.in-addr.arpa PTR 300 mail.ptr.test
3.100.51.198.in-addr.arpa PTR 300 elsewhere.test
4.100.51.198.in-addr.arpa PTR 300 mail.ptr.test
mail.ptr.test A 300 198.51.100.3
elsewhere.test A 300 198.51.100.3
3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR 300 mail.ptr.test
mail.ptr.test AAAA 300 2001:db8:1::3
mania.test TXT 300 "v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all"
macro%percent\032\032space%20url-space.example.com A 300 198.51.100.9
self.test MX 300 10 mail.self.test
mail.self.test A 300 198.51.100.3
self.test TXT 300 "v=spf1 ptr:self.test -all exp=exp.self.test"
3.100.51.198.in-addr.arpa PTR 300 mail.self.test
exp.self.test TXT 300 "go away"
bad.test MX 300 10 mail.bad.test
mail.bad.test A 300 198.51.100.4
bad.test TXT 300 "v=spf1 ptr -all exp=exp.bad.test"
exp.bad.test TXT 300 "go away"
"""


# `mxscan spf` exits with one status per result (README "Exit status").
SPF_STATUS = {"pass": 0, "fail": 10, "softfail": 11, "neutral": 12, "none": 13,
              "temperror": 14, "permerror": 15}


def spf_status(out):
    result = out.split("\n", 1)[0].rsplit("= ", 1)[-1].strip()
    return SPF_STATUS[result]


EXPLAIN_ZONE = mxtest.BASE_ZONE + r"""
loop.test MX 300 10 mx1.lab.test
loop.test TXT 300 "v=spf1 include:loop-a.test -all"
loop-a.test TXT 300 "v=spf1 include:loop-b.test -all"
loop-b.test TXT 300 "v=spf1 ip4:192.0.2.77 include:loop-a.test -all"
syntax.test MX 300 10 mx1.lab.test
syntax.test TXT 300 "v=spf1 ip4:192.0.2.1 ipv4:192.0.2.2 -all"
cover.test MX 300 10 mail.cover.test
mail.cover.test A 300 198.51.100.20
cover.test TXT 300 "v=spf1 ~mx -all"
"""


class Explanations(mxtest.TempDirCase):
    """check says what is wrong in this record, not only what the finding means."""

    @classmethod
    def setUpClass(cls):
        cls.dns = mxtest.FaultDNS(EXPLAIN_ZONE)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def check(self, name):
        r = mxtest.run(["check", "--color", "never", "-r", self.dns.addr, "--allow-address",
                        ALLOW, name])
        return r.stdout.decode()

    def test_loop_is_named_with_its_path(self):
        out = self.check("loop.test")
        self.assertIn("spf_lookup_limit", out)
        self.assertIn("here: include loop: loop.test -> loop-a.test -> loop-b.test -> loop-a.test",
                      out)
        self.assertIn("Break the loop", out)

    def test_syntax_error_names_the_term_and_its_position(self):
        out = self.check("syntax.test")
        self.assertIn("spf_syntax", out)
        self.assertIn("here: term 2 'ipv4:192.0.2.2': unknown mechanism", out)

    def test_not_covered_with_mx_present_does_not_say_add_mx(self):
        out = self.check("cover.test")
        self.assertIn("spf_mx_not_covered", out)
        self.assertIn("here: mail.cover.test 198.51.100.20 gets softfail from check_host "
                      "(decided by ~mx)", out)
        self.assertIn("The record has an mx mechanism", out)
        self.assertNotIn("(e.g. the mx mechanism)", out)


class SpfCmd(mxtest.TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = mxtest.FaultDNS(SPF_ZONE, args=["--count-names"])

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def spf(self, domain, ip, *extra):
        r = mxtest.run(["spf", domain, "--ip", ip, "-r", self.dns.addr, *extra])
        out = r.stdout.decode()
        self.assertEqual(r.rc, spf_status(out), r.describe())
        return out

    def test_ptr(self):
        out = self.spf("ptr.test", "198.51.100.3")
        self.assertIn("= pass", out)
        self.assertIn("decided by: ptr", out)
        self.assertIn("= pass", self.spf("ptr.test", "2001:db8:1::3"))
        # the name does not lead back to .4; .5 has no PTR at all
        self.assertIn("= fail", self.spf("ptr.test", "198.51.100.4"))
        self.assertIn("= fail", self.spf("ptr.test", "198.51.100.5"))

    def test_explanation_on_fail_only(self):
        out = self.spf("ptr.test", "198.51.100.4", "--sender", "bob@ptr.test")
        self.assertIn("explanation (from the domain's exp=): 198.51.100.4 is not ptr.test's "
                      "(PTR name: unknown; sender bob)", out)
        out = self.spf("ptr.test", "198.51.100.3")
        self.assertNotIn("explanation", out)
        # %{p} is the validated name below the domain
        out = self.spf("bad.test", "198.51.100.3")
        self.assertIn("= fail", out)
        self.assertIn("explanation (from the domain's exp=): go away", out)

    def test_macro_escapes_in_a_name(self):
        self.assertIn("= pass", self.spf("mania.test", "198.51.100.9"))
        self.assertIn("= fail", self.spf("mania.test", "198.51.100.10"))

    def test_malformed_identity_is_none(self):
        before = self.dns.snapshot()["queries"]
        for d in ["[1.2.3.5]", "A2345678", "A...example.com", "1.2.3.5",
                  "A123456789012345678901234567890123456789012345678901234567890123.example.com"]:
            out = self.spf(d, "1.2.3.5", "--helo", d)
            self.assertIn(") = none", out, d)
            self.assertIn("RFC 7208 4.3", out, d)
        self.assertEqual(self.dns.snapshot()["queries"], before, "a malformed domain was looked up")

    def test_scan_uses_ptr_never_exp(self):
        names = self.write("in.txt", "self.test\nbad.test\n")
        out = self.path("out.csv")
        with mxtest.FaultDNS(SPF_ZONE, args=["--count-names"]) as dns:  # counts of this scan only
            r = mxtest.run_scan(dns.addr, out, [names])
            self.assertEqual(r.rc, 0, r.describe())
            names = dns.snapshot()["names"]
        _, rows = mxtest.read_csv(out)
        by = {row["domain"]: mxtest.finding_list(row) for row in rows}
        # mail.self.test is authorised by ptr:self.test; mail.bad.test is not
        self.assertNotIn("spf_mx_not_covered", by["self.test"])
        self.assertIn("spf_mx_not_covered", by["bad.test"])
        self.assertIn("3.100.51.198.in-addr.arpa/PTR", names)
        self.assertNotIn("exp.self.test/TXT", names)
        self.assertNotIn("exp.bad.test/TXT", names)


if __name__ == "__main__":
    mxtest.main()

#!/usr/bin/env python3
"""`mxscan check` output compared with expected text (tests/data/check),
its exit status, and `mxscan spf` (check_host result, deciding term)."""
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


if __name__ == "__main__":
    mxtest.main()

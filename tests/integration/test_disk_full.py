#!/usr/bin/env python3
"""A full disk: the scan stops cleanly (exit 1, a message that says what to
do, no half row in the durable part), and --resume after space is freed
gives exactly the output of an uninterrupted scan. Uses a small tmpfs when
the test runs as root (CI does); /dev/full always."""
import os
import subprocess
import tempfile
import unittest

import mxtest

ZONE = mxtest.BASE_ZONE + "*.w.test MX 300 10 mx1.lab.test\n"


class DiskFull(mxtest.TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = mxtest.FaultDNS(ZONE)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def names(self, n):
        return self.write("in.txt", "".join("n%d.w.test\n" % i for i in range(n)))

    def test_dev_full(self):
        res = mxtest.run_scan(self.dns.addr, "/dev/full", [self.names(50)])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"No space left on device", res.stderr)
        self.assertFalse(os.path.exists("/dev/full.ckpt"), "a checkpoint beside a device")

    @unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
    def test_full_tmpfs_then_resume(self):
        mnt = tempfile.mkdtemp(prefix="mxfull-")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", mnt]).returncode:
            self.skipTest("cannot mount a tmpfs here")
        try:
            inp = self.names(6000)
            out = os.path.join(mnt, "out.csv")
            opts = ["--rate", "0", "--checkpoint-interval", "1"]
            res = mxtest.run_scan(self.dns.addr, out, [inp], opts)
            self.assertEqual(res.rc, 1, res.describe())
            self.assertIn(b"No space left on device", res.stderr)
            self.assertIn(b"--resume", res.stderr)
            ck = open(out + ".ckpt").read()
            self.assertIn("complete 0", ck)
            offset = int(ck.split("offset ")[1].split()[0])
            # The durable part is whole rows.
            with open(out, "rb") as f:
                durable = f.read(offset)
            self.assertTrue(durable == b"" or durable.endswith(b"\n"))
            subprocess.run(["mount", "-o", "remount,size=16m", mnt], check=True)
            res = mxtest.run_scan(self.dns.addr, out, [inp], opts + ["--resume"])
            self.assertEqual(res.rc, 0, res.describe())
            ref = self.path("ref.csv")
            res = mxtest.run_scan(self.dns.addr, ref, [inp], opts)
            self.assertEqual(res.rc, 0, res.describe())
            with open(out, "rb") as a, open(ref, "rb") as b:
                got, want = a.read(), b.read()
            self.assertEqual(got.count(b"\n"), 6001)
            self.assertEqual(got, want)
        finally:
            subprocess.run(["umount", mnt])
            os.rmdir(mnt)


if __name__ == "__main__":
    mxtest.main()

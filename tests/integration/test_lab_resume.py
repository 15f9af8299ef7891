#!/usr/bin/env python3
"""kill -9 at several seeded moments during a scan of a 50,000-name lab
(real NSD on loopback), resuming each time: the finished output must be
byte-identical (decompressed) to an uninterrupted scan. Then the same with
SIGINT (exit 130, resumable).

usage: test_lab_resume.py --mxscan BIN [--source DIR] [--size N] [--seed S]
"""
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import mxtest


class LabResume(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxlabresume-")
        cls.lab = mxtest.Lab(os.path.join(cls.tmp, "lab"), "127.0.0.65", "127.0.0.66",
                             size=mxtest.ARGS.size, seed=mxtest.ARGS.seed)
        cls.lab.up()
        env = cls.lab.env
        # Straight at NSD, paced so that a scan lasts several seconds.
        cls.scan = mxtest.scan_args(env["LAB_NSD"], None, ["--rate", "40000", "--timeout", "1000",
                                                           "--checkpoint-interval", "1",
                                                           "--frame-mb", "1"],
                                    [env["LAB_NAMES"]], allow=env["LAB_ALLOW"])
        ref = os.path.join(cls.tmp, "ref.csv.zst")
        res = mxtest.run(cls.scan + ["-o", ref], timeout=900)
        if res.rc != 0:
            raise AssertionError(res.describe())
        cls.duration = res.elapsed
        cls.ref = mxtest.decompress(ref)

    @classmethod
    def tearDownClass(cls):
        cls.lab.down()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, out, resume=False):
        return subprocess.Popen([mxtest.MXSCAN] + self.scan + ["-o", out] +
                                (["--resume"] if resume else []),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, out):
        """Resumes to the end: the output must equal the uninterrupted scan."""
        res = mxtest.run(self.scan + ["-o", out, "--resume"], timeout=900)
        self.assertEqual(res.rc, 0, res.describe())
        self.assertEqual(mxtest.decompress(out), self.ref,
                         "resumed output differs from the uninterrupted scan")

    def interrupt(self, out, delay, sig):
        p = self.start(out)
        time.sleep(delay)
        t0 = time.monotonic()
        p.send_signal(sig)
        mxtest.wait_or_fail(self, p, 30, "mxscan did not stop after signal %d" % sig)
        return p.returncode, time.monotonic() - t0

    def test_kill9_at_seeded_moments(self):
        # header + one row a line
        self.assertEqual(self.ref.count(b"\n"), mxtest.ARGS.size + 1)
        rng = random.Random(mxtest.ARGS.seed)
        out = os.path.join(self.tmp, "k.csv.zst")
        for i in range(4):
            delay = rng.uniform(0.3, max(0.4, self.duration * 0.8))
            if i == 0:
                rc, _ = self.interrupt(out, delay, signal.SIGKILL)
            else:
                p = self.start(out, resume=True)
                time.sleep(delay / 2)
                p.send_signal(signal.SIGKILL)
                mxtest.wait_or_fail(self, p, 30, "mxscan did not stop after SIGKILL")
                rc = p.returncode
            self.assertTrue(rc in (-signal.SIGKILL, 0), "kill %d: rc %s" % (i, rc))
        self.finish(out)

    def test_sigint_then_resume(self):
        out = os.path.join(self.tmp, "i.csv.zst")
        rc, took = self.interrupt(out, max(0.3, self.duration / 3), signal.SIGINT)
        self.assertEqual(rc, 130)
        self.assertLess(took, 2.0, "SIGINT took %.2f s to stop the scan" % took)
        self.finish(out)


if __name__ == "__main__":
    mxtest.lab_main(size=50000, seed=5)

#!/usr/bin/env python3
"""kill -9 at several seeded moments during a scan of a 50,000-name lab
(real NSD on loopback), resuming each time: the finished output must be
byte-identical (decompressed) to an uninterrupted scan. Then the same with
SIGINT (exit 130, resumable).

usage: test_lab_resume.py --mxscan BIN --source DIR [--size N] [--seed S]
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
LAB = {}


def zcat(path):
    return subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout


class LabResume(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mxlabresume-")
        port = 30000 + (os.getpid() % 20000)
        cls.labdir = os.path.join(cls.tmp, "lab")
        subprocess.run([os.path.join(ARGS.source, "scripts", "lab"), "up", cls.labdir,
                        "--size", str(ARGS.size), "--seed", str(ARGS.seed),
                        "--nsd-addr", "127.0.0.65", "--nsd-port", str(port),
                        "--unbound-addr", "127.0.0.66", "--unbound-port", str(port + 1)],
                       check=True, stdout=subprocess.DEVNULL, timeout=600)
        for line in open(os.path.join(cls.labdir, "lab.env")):
            k, _, v = line.strip().partition("=")
            LAB[k] = v.strip("'")
        # Straight at NSD, paced so that a scan lasts several seconds.
        cls.cmd = [ARGS.mxscan, "scan", "-q", "-r", LAB["LAB_NSD"], "--allow-address",
                   LAB["LAB_ALLOW"], "--rate", "40000", "--timeout", "1000",
                   "--checkpoint-interval", "1", "--frame-mb", "1", LAB["LAB_NAMES"]]
        ref = os.path.join(cls.tmp, "ref.csv.zst")
        t0 = time.monotonic()
        subprocess.run(cls.cmd + ["-o", ref], check=True, timeout=900)
        cls.duration = time.monotonic() - t0
        cls.ref = zcat(ref)

    @classmethod
    def tearDownClass(cls):
        subprocess.run([os.path.join(ARGS.source, "scripts", "lab"), "down", cls.labdir],
                       stdout=subprocess.DEVNULL, timeout=120)

    def interrupt(self, out, delay, sig):
        p = subprocess.Popen(self.cmd + ["-o", out], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        time.sleep(delay)
        t0 = time.monotonic()
        p.send_signal(sig)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            self.fail("mxscan did not stop after signal %d" % sig)
        return p.returncode, time.monotonic() - t0

    def test_kill9_at_seeded_moments(self):
        self.assertEqual(self.ref.count(b"\n"), ARGS.size + 1)  # header + one row a line
        rng = random.Random(ARGS.seed)
        out = os.path.join(self.tmp, "k.csv.zst")
        for i in range(4):
            delay = rng.uniform(0.3, max(0.4, self.duration * 0.8))
            if i == 0:
                rc, _ = self.interrupt(out, delay, signal.SIGKILL)
            else:
                p = subprocess.Popen(self.cmd + ["-o", out, "--resume"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                time.sleep(delay / 2)
                p.send_signal(signal.SIGKILL)
                rc = p.wait(timeout=30)
            self.assertTrue(rc in (-signal.SIGKILL, 0), "kill %d: rc %s" % (i, rc))
        r = subprocess.run(self.cmd + ["-o", out, "--resume"], stderr=subprocess.PIPE,
                           timeout=900)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        self.assertEqual(zcat(out), self.ref, "resumed output differs from the uninterrupted scan")

    def test_sigint_then_resume(self):
        out = os.path.join(self.tmp, "i.csv.zst")
        rc, took = self.interrupt(out, max(0.3, self.duration / 3), signal.SIGINT)
        self.assertEqual(rc, 130)
        self.assertLess(took, 2.0, "SIGINT took %.2f s to stop the scan" % took)
        r = subprocess.run(self.cmd + ["-o", out, "--resume"], stderr=subprocess.PIPE,
                           timeout=900)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        self.assertEqual(zcat(out), self.ref)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--size", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=5)
    ARGS, rest = ap.parse_known_args()
    r = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if r.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Interrupt and resume: SIGKILL at random moments, SIGINT, SIGTERM, a
double SIGINT, refused resumes (other inputs, other --checks) and the resume
of a complete scan. Every resumed output must be byte-identical (after
decompression) to an uninterrupted scan.

usage: test_resume.py --mxscan PATH --faultdns PATH [unittest args]
"""
import os
import random
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402
from mxtest import FaultDNS, TempDirCase, run_scan, start_scan  # noqa: E402

N = 20000
# --rate keeps a full scan at a few seconds (about 3 queries a domain);
# checkpoints every second.
OPTS = ["--rate", "12000", "--checkpoint-interval", "1", "--timeout", "2000"]

RESUME_ZONE = mxtest.BASE_ZONE + """\
cname.lab.test   CNAME 300 mx1.lab.test
alias.test       MX    300 10 cname.lab.test
spf.test         MX    300 10 mx1.lab.test
spf.test         TXT   300 "v=spf1 include:_spf.lab.test -all"
_spf.lab.test    TXT   300 "v=spf1 ip4:192.0.2.0/24 ~all"
_dmarc.spf.test  TXT   300 "v=DMARC1; p=quarantine; rua=mailto:d@spf.test"
"""


def make_input(n, seed=5):
    """n names: mostly distinct wildcard names, and a few hundred zone names reused."""
    rng = random.Random(seed)
    fixed = ["ok.test", "implicit.test", "nullmx.test", "dangling.test", "private.test",
             "alias.test", "spf.test", "nx.test", "bad_name.test"]
    reused = ["u%d.v.test" % i for i in range(300)] + fixed
    names = []
    for i in range(n):
        if rng.random() < 0.15:
            names.append(rng.choice(reused))
        else:
            names.append("r%d.w.test" % i)
    return names


def durable_rows(out):
    """Rows the checkpoint beside out says are durable (0 without one)."""
    try:
        with open(out + ".ckpt") as f:
            for line in f:
                if line.startswith("rows "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ResumeTests(TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="mxresume-")
        cls.dns = FaultDNS(RESUME_ZONE, ["--delay", "20"], workdir=cls.dir)
        cls.names = make_input(N)
        cls.input = os.path.join(cls.dir, "in.txt")
        with open(cls.input, "w") as f:
            f.write("".join(x + "\n" for x in cls.names))
        cls.ref_out = os.path.join(cls.dir, "ref.zst")
        res = run_scan(cls.dns.addr, cls.ref_out, [cls.input], extra=OPTS)
        cls.ref_res = res
        cls.ref = mxtest.decompress(cls.ref_out) if res.rc == 0 else None
        cls.full_time = res.elapsed

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.assertEqual(self.ref_res.rc, 0, self.ref_res.describe())

    def start(self, out, extra=(), resume=False, quiet=True):
        return start_scan(self.dns.addr, out, [self.input],
                          extra=OPTS + list(extra) + (["--resume"] if resume else []), quiet=quiet)

    def finish(self, out, extra=()):
        """Resumes to the end and checks the output against the reference."""
        st = out + ".stats.json"
        res = run_scan(self.dns.addr, out, [self.input], extra=OPTS + list(extra) + ["--resume", "--stats", st])
        self.assertEqual(res.rc, 0, res.describe())
        got = mxtest.decompress(out)
        if got != self.ref:
            _, a = mxtest.parse_csv(self.ref)
            _, b = mxtest.parse_csv(got)
            diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            self.fail("resumed output differs from the uninterrupted scan: %d vs %d rows, first difference "
                      "at row %d: %r vs %r" % (len(a), len(b), diff + 1, a[diff:diff + 1], b[diff:diff + 1]))
        stats = mxtest.load_stats(st)
        self.assertEqual(stats["domains"], N, "stats domains after a resume must count all rows")
        return res, stats

    def interrupt(self, sig, after, out, extra=(), second=None):
        """Starts a scan, sends sig after `after` s; returns (rc, seconds to exit, stderr)."""
        p = self.start(out, extra, quiet=False)
        mxtest.wait_until_scanning(p, out)
        time.sleep(after)
        self.assertIsNone(p.poll(), "the scan ended before the signal; make it slower")
        t0 = time.monotonic()
        p.send_signal(sig)
        if second:
            time.sleep(0.05)
            if p.poll() is None:
                p.send_signal(second)
        _, err = mxtest.wait_or_fail(self, p, 30, "mxscan did not stop within 30 s of %s" % sig)
        return p.returncode, time.monotonic() - t0, err.decode("utf-8", "replace")

    # ---- tests ----

    def test_reference_is_complete(self):
        header, rows = mxtest.parse_csv(self.ref)
        self.assertEqual([r["domain"] for r in rows if r["status"] != "INVALID"],
                         [n for n in self.names if n != "bad_name.test"])
        self.assertEqual(len(rows), N)
        self.assertGreater(self.full_time, 2.0, "the scan is too fast for the interrupt tests")

    def test_sigkill_four_times(self):
        rng = random.Random(20240601)
        out = self.path("out.zst")
        kills = 0
        resume = False
        for k in range(4):
            p = self.start(out, resume=resume)
            time.sleep(rng.uniform(0.6, 1.6))
            # Under a sanitizer on a loaded machine the first frame can come
            # after the kill in every run: then nothing is ever resumed.
            # Let the output hold some durable rows before the first kill.
            deadline = time.monotonic() + 30 * mxtest.timeout_factor()
            while p.poll() is None and durable_rows(out) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            if p.poll() is None:
                p.kill()
                kills += 1
            p.communicate()
            if p.returncode >= 0:
                self.assertEqual(p.returncode, 0, "run %d ended with %d" % (k + 1, p.returncode))
            resume = True
        self.assertGreaterEqual(kills, 3, "the scan finished before most kills; make it slower")
        res, stats = self.finish(out)
        self.assertLess(stats["domains_this_run"], N, "the resume started again from the beginning")

    def test_sigkill_plain_csv_output(self):
        out = self.path("out.csv")
        p = self.start(out)
        time.sleep(1.7)
        self.assertIsNone(p.poll())
        p.kill()
        p.communicate()
        res, stats = self.finish(out)

    def test_sigint_exits_130_and_resumes(self):
        out = self.path("out.zst")
        rc, took, err = self.interrupt(signal.SIGINT, 1.5, out)
        self.assertEqual(rc, 130, err)
        self.assertLess(took, 2.0 * mxtest.timeout_factor(), "SIGINT took %.2f s to stop the scan" % took)
        self.assertIn("resume", err.lower(), "no hint how to continue: " + err)
        self.assertTrue(os.path.exists(out + ".ckpt"))
        self.finish(out)

    def test_sigterm_exits_143_and_resumes(self):
        out = self.path("out.zst")
        rc, took, err = self.interrupt(signal.SIGTERM, 1.5, out)
        self.assertEqual(rc, 143, err)
        self.assertLess(took, 2.0 * mxtest.timeout_factor(), "SIGTERM took %.2f s to stop the scan" % took)
        self.finish(out)

    def test_second_sigint_stops_at_once(self):
        out = self.path("out.zst")
        rc, took, err = self.interrupt(signal.SIGINT, 1.2, out, second=signal.SIGINT)
        self.assertEqual(rc, 130, err)
        self.assertLess(took, 1.0 * mxtest.timeout_factor(), "a second SIGINT took %.2f s" % took)
        self.finish(out)

    def test_resume_refused_for_other_inputs_or_checks(self):
        out = self.path("out.zst")
        rc, _, err = self.interrupt(signal.SIGINT, 1.2, out)
        self.assertEqual(rc, 130, err)

        def snapshot():
            with open(out, "rb") as f, open(out + ".ckpt", "rb") as g:
                return f.read(), g.read()
        before = snapshot()
        other = self.write("other.txt", "".join(x + "\n" for x in self.names[:-1]) + "different.w.test\n")
        cases = [
            ("another input file", [other], []),
            ("the same input twice", [self.input, self.input], []),
            ("other --checks", [self.input], ["--checks", "mx"]),
            ("other --shard", [self.input], ["--shard", "1/2"]),
        ]
        for what, inputs, extra in cases:
            with self.subTest(what=what):
                res = run_scan(self.dns.addr, out, inputs, extra=OPTS + extra + ["--resume"])
                mxtest.assert_not_signalled(self, res)
                self.assertNotEqual(res.rc, 0, "%s: resume accepted: %s" % (what, res.describe()))
                msg = res.stderr.decode("utf-8", "replace")
                self.assertIn("resume", msg.lower(), "%s: unclear message: %r" % (what, msg))
                self.assertEqual(snapshot(), before, "%s: a refused resume changed the output" % what)
        self.finish(out)

    def test_resume_of_complete_scan(self):
        out = self.path("done.zst")
        self.assertFalse(os.path.exists(self.ref_out + ".ckpt"),
                         "a complete scan left its checkpoint beside the output")
        shutil.copy(self.ref_out, out)
        with open(out, "rb") as f:
            before = f.read()
        res = mxtest.run(mxtest.scan_args(self.dns.addr, out, OPTS + ["--resume"], [self.input], quiet=False))
        self.assertEqual(res.rc, 0, res.describe())
        self.assertIn("complete", res.stderr.decode("utf-8", "replace").lower(),
                      "no message that the scan is already complete")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), before, "the complete output was rewritten")
        self.assertLess(res.elapsed, self.full_time, "the complete scan was redone")

    def test_resume_without_checkpoint_after_early_kill(self):
        # Killed before the first checkpoint: --resume must still produce the
        # full, identical output (starting over is fine).
        out = self.path("early.zst")
        p = self.start(out)
        time.sleep(0.15)
        p.kill()
        p.communicate()
        self.finish(out)

    def test_resume_before_first_checkpoint_starts_afresh(self):
        # The states a kill can leave before the first checkpoint, made
        # deterministic: the output created but empty, or not created.
        for what, make in (("empty output", True), ("no output", False)):
            out = self.path("fresh-%d.zst" % make)
            if make:
                open(out, "wb").close()
            self.assertFalse(os.path.exists(out + ".ckpt"))
            res, stats = self.finish(out)
            self.assertEqual(stats["domains_this_run"], N, what)
            self.assertFalse(stats["resumed"], "%s: nothing was resumed" % what)
            self.assertFalse(os.path.exists(out + ".ckpt"), what)


if __name__ == "__main__":
    mxtest.main()

#!/usr/bin/env python3
"""The command line as a user meets it (against faultdns):

- the progress line on a terminal (a pseudo-terminal): domains finished in
  any order out of the expected total, domains/s, q/s, the answered share
  and an ETA, sensible from the first second of a rate-limited scan (it
  used to say 100 % and ETA 00:00 at once while nothing was done);
- a resolver that answers nothing is named before any query and nothing is
  written; a scan whose look-ups mostly fail does not end as a success;
- every output path is checked before the first query;
- an interrupted scan is never overwritten without --force;
- usage errors are one line naming the option, the value and the range;
- check --color auto colours on a terminal only.
"""
import os
import pty
import re
import select
import signal
import socket
import subprocess
import time

import mxtest


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_on_pty(args, timeout=120):
    """Runs mxscan with stdout/stderr on a pseudo-terminal; (rc, text)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([mxtest.MXSCAN] + args, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout * mxtest.timeout_factor()
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    os.close(master)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return p.returncode, b"".join(chunks).decode("utf-8", "replace")


class Cli(mxtest.TempDirCase):

    def names(self, n, name="names.txt"):
        return self.write(name, "".join("d%d.w.test\n" % i for i in range(n)))

    def test_progress_line_on_a_terminal(self):
        n = 600
        names = self.names(n)
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            # about 3 queries a domain at 400 q/s: several seconds
            rc, text = run_on_pty(mxtest.scan_args(dns.addr, self.path("o.csv"),
                                                   ["--rate", "400"], [names], quiet=False))
        self.assertEqual(rc, 0, text)
        lines = [l for l in re.split(r"[\r\n]+", text) if " done" in l and "ETA" in l]
        self.assertGreaterEqual(len(lines), 3, text)
        pat = re.compile(r"(\d+) of (~?)(\d+) done \(([\d.]+)%\)\s+(\d+) domains/s\s+(\d+) q/s"
                         r"\s+answered ([\d.]+%|-)\s+in flight \d+\s+timeouts \d+\s+ETA ([\d:-]+)")
        parsed = []
        for l in lines:
            m = pat.search(l)
            self.assertIsNotNone(m, "progress line not in the documented form: %r" % l)
            parsed.append(m)
        first, last = parsed[0], parsed[-1]
        # the total is known from the first second (the input fits the window)
        self.assertEqual(int(first.group(3)), n)
        self.assertLess(int(first.group(1)), n, "everything 'done' after one second?")
        self.assertLess(float(first.group(4)), 100.0)
        self.assertNotEqual(first.group(8), "00:00", "ETA 00:00 while the scan has just begun")
        self.assertGreater(int(first.group(6)), 0, "no q/s shown")
        # the ETA of the first second is within a factor 3 of the time left
        mm, ss = first.group(8).split(":")
        eta = int(mm) * 60 + int(ss)
        left = len(parsed) - 1  # one line a second
        self.assertTrue(left / 3 <= eta <= left * 3 + 2,
                        "first ETA %d s, the scan went on for %d s" % (eta, left))
        done = [int(m.group(1)) for m in parsed]
        self.assertEqual(done, sorted(done), "done count went backwards")
        self.assertIn("%d domains in" % n, text, "no summary after the progress line")
        self.assertIn("\x1b[K", text, "the terminal line is not rewritten in place")

    def test_dead_resolver_is_named_and_nothing_written(self):
        port = free_udp_port()
        out = self.path("o.csv.zst")
        res = mxtest.run(mxtest.scan_args("127.0.0.1:%d" % port, out,
                                          ["--timeout", "200", "--retries", "0"],
                                          [self.names(50)], quiet=False))
        self.assertEqual(res.rc, 1, res.describe())
        err = res.stderr.decode()
        self.assertIn("127.0.0.1:%d" % port, err)
        self.assertIn("does not answer", err)
        self.assertFalse(os.path.exists(out), "an output was written for a dead resolver")
        self.assertFalse(os.path.exists(out + ".ckpt"))

    def test_signal_during_the_resolver_probe(self):
        # The probe of a silent resolver takes seconds: a signal then ends
        # the command at once with the scan's status, nothing written.
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # reads nothing, answers nothing
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        for sig, rc in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            out = self.path("early-%d.csv.zst" % rc)
            args = mxtest.scan_args("127.0.0.1:%d" % port, out, ["--timeout", "3000", "--retries", "2"],
                                    [self.names(50)], quiet=False)
            p = subprocess.Popen([mxtest.MXSCAN] + args, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            time.sleep(0.5 * mxtest.timeout_factor())
            self.assertIsNone(p.poll(), "the probe of a silent resolver ended too soon")
            t0 = time.monotonic()
            p.send_signal(sig)
            _, err = mxtest.wait_or_fail(self, p, 10, "no stop after %s during the probe" % sig)
            self.assertEqual(p.returncode, rc, err.decode())
            self.assertLess(time.monotonic() - t0, 2.0 * mxtest.timeout_factor())
            self.assertIn("before the scan started", err.decode())
            self.assertFalse(os.path.exists(out), "an output was written")

    def test_mostly_failing_scan_is_not_a_success(self):
        zone = mxtest.BASE_ZONE + "*.w.test servfail\n"
        with mxtest.FaultDNS(zone) as dns:
            out = self.path("o.csv")
            res = mxtest.run_scan(dns.addr, out, [self.names(40)], ["--retries", "0"])
        self.assertEqual(res.rc, 3, res.describe())
        self.assertIn("failed", res.stderr.decode())
        _, rows = mxtest.read_csv(out)
        self.assertEqual(len(rows), 40, "the rows are still all written")
        self.assertEqual({r["status"] for r in rows}, {"SERVFAIL"})

    def test_output_paths_checked_before_the_first_query(self):
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            for opt in (["--stats", "/nonexistent/dir/s.json"],
                        ["--status-file", "/nonexistent/dir/st.jsonl"]):
                res = mxtest.run_scan(dns.addr, self.path("o.csv"), [self.names(20)], opt)
                self.assertEqual(res.rc, 2, res.describe())
                self.assertIn(opt[0], res.stderr.decode())
            res = mxtest.run_scan(dns.addr, "/nonexistent/dir/o.csv", [self.names(20)])
            self.assertEqual(res.rc, 2, res.describe())
            stats = dns.snapshot()
        self.assertEqual(stats["queries"], 0, "queries were sent before the paths were checked")
        self.assertFalse(os.path.exists(self.path("o.csv")))

    def test_interrupted_scan_is_not_overwritten(self):
        names = self.names(20000)
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            out = self.path("o.csv.zst")
            p = mxtest.start_scan(dns.addr, out, [names], ["--rate", "3000"])
            time.sleep(2.0)
            self.assertIsNone(p.poll(), "the scan ended before the interruption")
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=30)
            self.assertEqual(p.returncode, 130)
            with open(out, "rb") as f:
                before = f.read()
            res = mxtest.run_scan(dns.addr, out, [names], ["--rate", "0"])
            self.assertEqual(res.rc, 2, res.describe())
            err = res.stderr.decode()
            self.assertIn("--resume", err)
            self.assertIn("--force", err)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), before, "the refused scan touched the output")
            res = mxtest.run_scan(dns.addr, out, [names], ["--rate", "0", "--force"])
            self.assertEqual(res.rc, 0, res.describe())
            _, rows = mxtest.read_csv(out)
            self.assertEqual(len(rows), 20000)
            self.assertFalse(os.path.exists(out + ".ckpt"), "checkpoint left after completion")

    def test_usage_errors_are_one_line(self):
        cases = [
            (["scan", "-o", "x", "--threads", "0", "in"], ["--threads", "'0'", "1..64"]),
            (["scan", "-o", "x", "--rate", "abc", "in"], ["--rate", "'abc'", "0..10000000"]),
            (["scan", "-o", "x", "--bogus", "in"], ["--bogus"]),
            (["scan", "-o", "x", "in", "--rate"], ["--rate", "needs a value"]),
            (["scan", "-o", "x", "--color", "always", "in"], ["--color", "not an option"]),
            (["check", "--threads", "2", "a.test"], ["--threads", "not an option"]),
            (["frobnicate"], ["unknown command", "frobnicate"]),
        ]
        for args, words in cases:
            res = mxtest.run(args)
            err = res.stderr.decode()
            self.assertEqual(res.rc, 2, "%s: %s" % (args, err))
            self.assertEqual(len(err.strip().splitlines()), 1, "%s: not one line:\n%s" % (args, err))
            for w in words:
                self.assertIn(w, err, args)
            self.assertNotIn("usage:", err, "the whole help was printed")

    def test_check_colour_auto(self):
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            args = ["check", "-r", dns.addr, "--allow-address", mxtest.ALLOW, "dangling.test"]
            rc, text = run_on_pty(args)
            self.assertEqual(rc, 4, text)
            self.assertIn("\x1b[", text, "no colour on a terminal with the default --color auto")
            res = mxtest.run(args)
            self.assertNotIn(b"\x1b[", res.stdout, "colour in a pipe")


if __name__ == "__main__":
    mxtest.main()

#!/usr/bin/env python3
"""Liveness of the scan engine (against faultdns):

- the stall of issue 9 (a record finished while an answer it asked for was
  still in flight, then recycled) cannot come back: a population shaped like
  the one that stalled finishes every time and matches the expected rows;
- a stall (forced with the test-only MXSCAN_FAULT=lose-answer:N) is detected:
  exit 5, the stuck domain and what it waits for are named, the output is
  resumable and the resumed output equals a clean scan;
- a worker that never returns (MXSCAN_FAULT=spin-worker:N) cannot keep the
  scan alive: SIGTERM ends it within 2 s (exit 143, resumable), and without
  a signal the stall detector ends it (exit 5);
- SIGINT ends a scan that waits on a quiet stdin pipe within 2 s.
"""
import os
import signal
import subprocess
import time

import mxtest

# Domains shaped like the stall population: an IP-literal exchange listed
# before a self-hosted one, and SPF "mx". check_host's mx mechanism asks the
# A record of the literal (delayed here) and matches on the second exchange
# before that answer comes: the analysis is "done" while a look-up is still
# pending.
N_SHAPED = 60


def shaped_zone():
    lines = ["198.51.100.189/A delay 400", "198.51.100.189/AAAA delay 400"]
    for i in range(N_SHAPED):
        d = "shape%d.test" % i
        lines += [
            "%s MX 300 5 198.51.100.189." % d,
            "%s MX 300 10 mail.%s" % (d, d),
            "mail.%s A 300 192.0.2.%d" % (d, 10 + i % 200),
            "mail.%s AAAA 300 2001:db8::%x" % (d, 16 + i),
            '%s TXT 300 "v=spf1 ip4:198.18.18.41 mx -all"' % d,
            '_dmarc.%s TXT 300 "v=DMARC1; p=none"' % d,
        ]
    return mxtest.BASE_ZONE + "\n".join(lines) + "\n"


def many_names(n):
    return "".join("d%d.w.test\n" % i for i in range(n))


class Liveness(mxtest.TempDirCase):

    def test_shaped_population_finishes_every_time(self):
        # Each shaped domain is followed by plain ones, so that a record
        # finished too early is already reused when the delayed answer
        # comes (the corruption that stalled or garbled the scan).
        order = []
        for i in range(N_SHAPED):
            order.append("shape%d.test" % i)
            order += ["p%d-%d.w.test" % (i, k) for k in range(40)]
        names = self.write("names.txt", "".join(n + "\n" for n in order))
        with mxtest.FaultDNS(shaped_zone()) as dns:
            ref = None
            for run, extra in enumerate([["--threads", "1", "--window", "2"],
                                         ["--threads", "1", "--window", "3"],
                                         ["--threads", "2", "--window", "5"],
                                         ["--threads", "2", "--window", "64"]]):
                out = self.path("o%d.csv" % run)
                res = mxtest.run_scan(dns.addr, out, [names],
                                      ["--rate", "3000", "--timeout", "3000", "--stall-timeout", "8"]
                                      + extra, timeout=120)
                self.assertRc(res, 0)
                _, rows = mxtest.read_csv(out)
                self.assertEqual([r["domain"] for r in rows], order)
                for r in rows:
                    if not r["domain"].startswith("shape"):
                        self.assertEqual(r["mail_status"], "ok", r)
                        continue
                    # the self-hosted exchange is covered by "mx"; the literal
                    # is reported; mail still flows through mail.<d>
                    self.assertEqual(r["mail_status"], "degraded", r)
                    self.assertEqual(mxtest.finding_list(r), ["mx_ip_literal", "dmarc_none"], r)
                data = mxtest.decompress(out)
                if ref is None:
                    ref = data
                self.assertEqual(data, ref, "rows depend on the engine settings")

    def clean_reference(self, dns, names):
        ref = self.path("ref.csv")
        self.assertRc(mxtest.run_scan(dns.addr, ref, [names], ["--rate", "0"]), 0)
        return mxtest.decompress(ref)

    def test_stall_is_detected_and_resumable(self):
        names = self.write("names.txt", many_names(3000))
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            ref = self.clean_reference(dns, names)
            out = self.path("out.csv.zst")
            env = dict(os.environ, MXSCAN_FAULT="lose-answer:700")
            t0 = time.monotonic()
            res = mxtest.run(mxtest.scan_args(
                dns.addr, out, ["--rate", "0", "--timeout", "500", "--retries", "0",
                                "--stall-timeout", "3"], [names]), env=env, timeout=120)
            took = time.monotonic() - t0
            err = res.stderr.decode()
            self.assertEqual(res.rc, 5, err)
            self.assertIn("stalled", err)
            self.assertIn("never delivered", err, "the report does not say what is awaited")
            self.assertRegex(err, r"row \d+ \(input line \d+\) d\d+\.w\.test")
            self.assertIn("--resume", err)
            self.assertLess(took, 30 * mxtest.timeout_factor())
            _, rows = mxtest.read_csv(out)
            self.assertLess(len(rows), 3000, "the stall did not happen")
            res = mxtest.run_scan(dns.addr, out, [names], ["--rate", "0", "--resume"])
            self.assertRc(res, 0)
            self.assertEqual(mxtest.decompress(out), ref)

    def start_spinning(self, dns, names, out, extra=()):
        env = dict(os.environ, MXSCAN_FAULT="spin-worker:500")
        return mxtest.start_scan(dns.addr, out, [names], ["--rate", "0", "--threads", "2"] +
                                 list(extra), env=env, stdout=subprocess.DEVNULL)

    def test_sigterm_ends_a_scan_whose_worker_never_returns(self):
        names = self.write("names.txt", many_names(20000))
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            ref = self.clean_reference(dns, names)
            out = self.path("out.csv.zst")
            p = self.start_spinning(dns, names, out)
            time.sleep(1.5)
            self.assertIsNone(p.poll())
            t0 = time.monotonic()
            p.send_signal(signal.SIGTERM)
            _, err = mxtest.wait_or_fail(self, p, 30,
                                         "SIGTERM did not end a scan with a spinning worker")
            took = time.monotonic() - t0
            self.assertEqual(p.returncode, 143, err.decode())
            self.assertLess(took, 2.0 * mxtest.timeout_factor(), "SIGTERM took %.2f s" % took)
            self.assertIn("did not stop", err.decode())
            res = mxtest.run_scan(dns.addr, out, [names], ["--rate", "0", "--resume"])
            self.assertRc(res, 0)
            self.assertEqual(mxtest.decompress(out), ref)

    def test_spinning_worker_is_a_stall(self):
        names = self.write("names.txt", many_names(5000))
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            out = self.path("out.csv.zst")
            p = self.start_spinning(dns, names, out, ["--timeout", "500", "--stall-timeout", "3"])
            _, err = mxtest.wait_or_fail(self, p, 60,
                                         "a scan with a spinning worker did not end by itself")
            err = err.decode()
            self.assertEqual(p.returncode, 5, err)
            self.assertIn("does not answer", err)

    def test_sigint_on_a_quiet_stdin(self):
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            out = self.path("out.csv.zst")
            p = mxtest.start_scan(dns.addr, out, ["-"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL)
            p.stdin.write(b"ok.test\nnullmx.test\n")
            p.stdin.flush()
            time.sleep(1.0)  # the reader now waits for more input
            self.assertIsNone(p.poll())
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=30)  # stdin stays open: no EOF reaches the reader
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.fail("SIGINT did not end a scan waiting on stdin")
            took = time.monotonic() - t0
            err = p.stderr.read()
            p.stderr.close()
            p.stdin.close()
            self.assertEqual(p.returncode, 130, err.decode())
            self.assertLess(took, 2.0 * mxtest.timeout_factor())
            _, rows = mxtest.read_csv(out)
            self.assertEqual([r["domain"] for r in rows], ["ok.test", "nullmx.test"])


if __name__ == "__main__":
    mxtest.main()

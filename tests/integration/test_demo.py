#!/usr/bin/env python3
"""integration.demo: scripts/demo, the README's first command, ends with
status 0 after a successful scan (issue 10: it ended with 141, SIGPIPE of
`zstd -dc | head` under pipefail), prints the statistics and the first rows,
and stops its lab.

usage: test_demo.py --source DIR --mxscan BIN

Runs the demo itself with --no-setup (no apt, no build: the mxscan under
test) on free loopback ports in 127.0.10.0/24, writing to a temporary
directory. Exit 77 (skip) if nsd or unbound is not installed.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

ARGS = None
NSD_ADDR, UNBOUND_ADDR = "127.0.10.53", "127.0.10.54"


def free_port(addr):
    """A port free for both UDP and TCP on addr."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((addr, 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port on %s" % addr)


class Demo(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="mxdemo-")

    def tearDown(self):
        lab = os.path.join(self.work, "demo-lab")
        if os.path.isdir(lab):  # whatever happened, no daemon outlives the test
            subprocess.run([os.path.join(ARGS.source, "scripts", "lab"), "down", lab],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)

    def test_demo_exits_0(self):
        cmd = ["bash", os.path.join(ARGS.source, "scripts", "demo"), "--no-setup",
               "--mxscan", ARGS.mxscan, "--work", self.work,
               "--nsd-addr", NSD_ADDR, "--nsd-port", str(free_port(NSD_ADDR)),
               "--unbound-addr", UNBOUND_ADDR, "--unbound-port", str(free_port(UNBOUND_ADDR))]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "scripts/demo exited %d (141 is SIGPIPE)\nstderr:\n%s"
                         % (p.returncode, err[-3000:]))
        # the scan really ran: its statistics, then the CSV header and 4 rows
        stats = json.load(open(os.path.join(self.work, "demo", "stats.json")))
        self.assertEqual(stats["domains"], 1000)
        self.assertEqual(stats["stop_reason"], "complete")
        lines = out.rstrip("\n").split("\n")
        self.assertTrue(lines[-5].startswith("domain,status,mail_status,mx,findings"), lines[-5:])
        self.assertIn('"domains"', out)
        # the lab is stopped (the demo's EXIT trap)
        st = subprocess.run([os.path.join(ARGS.source, "scripts", "lab"), "status",
                             os.path.join(self.work, "demo-lab")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertNotEqual(st.returncode, 0, st.stdout.decode())
        self.assertIn("nsd: stopped", st.stdout.decode())
        self.assertIn("unbound: stopped", st.stdout.decode())

    def test_bad_option_is_usage(self):
        p = subprocess.run(["bash", os.path.join(ARGS.source, "scripts", "demo"), "--bogus"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--no-setup", p.stderr.decode())


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--mxscan", required=True)
    ARGS, rest = ap.parse_known_args()
    ARGS.mxscan = os.path.abspath(ARGS.mxscan)
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    if not shutil.which("nsd", path=path) or not shutil.which("unbound", path=path):
        print("nsd or unbound not installed: skipped")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()

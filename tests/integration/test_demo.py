#!/usr/bin/env python3
"""integration.demo: scripts/demo, the README's first command, ends with
status 0 after a successful scan (issue 10: it ended with 141, SIGPIPE of
`zstd -dc | head` under pipefail), prints the statistics and the first rows,
and stops its lab.

usage: test_demo.py --mxscan BIN [--source DIR]

Runs the demo itself with --no-setup (no apt, no build: the mxscan under
test) on pid-based free loopback ports in 127.0.10.0/24, writing to a temporary
directory. Exit 77 (skip) if nsd or unbound is not installed.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import mxtest

NSD_ADDR, UNBOUND_ADDR = "127.0.10.53", "127.0.10.54"


class Demo(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="mxdemo-")
        self.demo = os.path.join(mxtest.SOURCE, "scripts", "demo")

    def tearDown(self):
        lab = os.path.join(self.work, "demo-lab")
        if os.path.isdir(lab):  # whatever happened, no daemon outlives the test
            mxtest.lab_script("down", lab, check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    def test_demo_exits_0(self):
        cmd = ["bash", self.demo, "--no-setup", "--mxscan", mxtest.MXSCAN, "--work", self.work,
               "--nsd-addr", NSD_ADDR, "--nsd-port", str(mxtest.pid_port(NSD_ADDR)),
               "--unbound-addr", UNBOUND_ADDR,
               "--unbound-port", str(mxtest.pid_port(UNBOUND_ADDR, offset=1))]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, "scripts/demo exited %d (141 is SIGPIPE)\nstderr:\n%s"
                         % (p.returncode, err[-3000:]))
        # the scan really ran: its statistics, then the CSV header and 4 rows
        stats = mxtest.load_stats(os.path.join(self.work, "demo", "stats.json"))
        self.assertEqual(stats["domains"], 1000)
        self.assertEqual(stats["stop_reason"], "complete")
        lines = out.rstrip("\n").split("\n")
        self.assertTrue(lines[-5].startswith("domain,status,mail_status,mx,findings"), lines[-5:])
        self.assertIn('"domains"', out)
        # the lab is stopped (the demo's EXIT trap)
        st = mxtest.lab_script("status", os.path.join(self.work, "demo-lab"), check=False)
        self.assertNotEqual(st.returncode, 0, st.stdout)
        self.assertIn("nsd: stopped", st.stdout)
        self.assertIn("unbound: stopped", st.stdout)

    def test_bad_option_is_usage(self):
        p = subprocess.run(["bash", self.demo, "--bogus"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--no-setup", p.stderr.decode())


def main():
    mxtest.parse_args(need=("mxscan",))
    mxtest.require_lab_tools(skip=True)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()

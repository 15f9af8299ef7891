#!/usr/bin/env python3
"""cmake --install puts a working mxscan under a prefix: the binary, its
provider data (found beside the binary, not in the build tree) and the
README. Usage: test_install.py --mxscan PATH --faultdns PATH --build DIR"""
import os
import subprocess
import sys

import mxtest

BUILD = None


class Install(mxtest.TempDirCase):

    def test_installed_binary_reads_its_own_provider_data(self):
        prefix = self.path("prefix")
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(r.returncode, 0, r.stdout)
        exe = os.path.join(prefix, "bin", "mxscan")
        data = os.path.join(prefix, "share", "mxscan", "providers.csv")
        self.assertTrue(os.access(exe, os.X_OK), r.stdout)
        self.assertTrue(os.path.exists(data), r.stdout)
        self.assertTrue(os.path.exists(os.path.join(prefix, "share", "doc", "mxscan",
                                                    "README.md")))
        # Mark the installed copy: a provider only it knows.
        with open(data, "a") as f:
            f.write("lab.test,installedcopy,mailbox,\n")
        env = {k: v for k, v in os.environ.items() if k != "MXSCAN_PROVIDERS"}
        with mxtest.FaultDNS(mxtest.BASE_ZONE) as dns:
            out = subprocess.run([exe, "check", "--color", "never", "-r", dns.addr,
                                  "--allow-address", mxtest.ALLOW, "ok.test"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("providers: exchanges installedcopy", out.stdout,
                      "the installed binary did not read share/mxscan/providers.csv")
        v = subprocess.run([exe, "version"], stdout=subprocess.PIPE, text=True)
        self.assertTrue(v.stdout.startswith("mxscan "), v.stdout)


if __name__ == "__main__":
    args = sys.argv[1:]
    i = args.index("--build")
    BUILD = os.path.abspath(args[i + 1])
    sys.argv = [sys.argv[0]] + args[:i] + args[i + 2:]
    mxtest.main()

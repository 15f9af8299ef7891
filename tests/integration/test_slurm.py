#!/usr/bin/env python3
"""A study on a real (one-node) Slurm cluster (issue 16):

scripts/study/slurm-lab starts munged, slurmctld and slurmd on 127.0.0.1;
deploy/slurm/mxscan-array.sbatch runs a 4-shard scan of the lab as a job
array (sbatch --array=1-4), each task with its own Unbound on its own
loopback address forwarding to the lab's NSD, results to one directory.
Checked: every task completed with exit code 0; the shards are disjoint
and together hold exactly the rows of a one-machine scan of the same
names; `mxscan stats --run-stats` over the shards equals the one-machine
scan's own --stats (apart from the run members README "mxscan stats" sets aside);
`mxscan report` over the shards equals the one-machine report.
Everything is stopped afterwards (no daemon left).

usage: test_slurm.py --mxscan PATH --source DIR --workdir DIR [--size N]
Exit 77 (skip) only when Slurm or munge is not installed (scripts/install-deps).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402
from mxtest import run  # noqa: E402

SHARDS = 4
TASK_NET = 64  # the tasks' Unbound addresses: 127.64.0.2 .. 127.64.0.5


def unbound_template(lab):
    """The lab's Unbound configuration with the task's address, port and
    directory as the sbatch script's placeholders, in the foreground."""
    with open(lab.path("unbound/unbound.conf")) as f:
        conf = f.read()
    conf = re.sub(r"(?m)^  interface: .*$", "  interface: @ADDR@@@PORT@", conf)
    conf = re.sub(r"(?m)^  port: .*$", "  port: @PORT@", conf)
    conf = re.sub(r'(?m)^  directory: .*$', '  directory: "@DIR@"', conf)
    conf = re.sub(r'(?m)^  pidfile: .*$', '  pidfile: "@DIR@/unbound.pid"', conf)
    conf = re.sub(r'(?m)^  logfile: .*$', '  logfile: ""', conf)
    conf = re.sub(r"(?m)^  do-daemonize: .*$", "  do-daemonize: no", conf)
    for key in ("@ADDR@@@PORT@", "port: @PORT@", '"@DIR@"', "do-daemonize: no"):
        assert key in conf, "the lab's unbound.conf changed: no %s" % key
    return conf


def slurm_lab(*args, timeout=300):
    return subprocess.run([os.path.join(mxtest.SOURCE, "scripts", "study", "slurm-lab")] +
                          [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def rows_by_line(tc, path):
    """{(domain, input_line): the row's fields} (the lab repeats some names)."""
    header, rows = mxtest.read_csv(path)
    out = {}
    for r in rows:
        key = (r["domain"], r["input_line"])
        if key in out:
            tc.fail("%s: %s twice" % (path, key))
        out[key] = tuple(r[h] for h in header)
    return header, out


class Slurm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        a = mxtest.ARGS
        cls.work = os.path.abspath(a.workdir)
        shutil.rmtree(cls.work, ignore_errors=True)
        os.makedirs(cls.work)
        cls.slurm_dir = os.path.join(cls.work, "slurm")
        cls.lab = mxtest.Lab(os.path.join(cls.work, "lab"), "127.0.63.1", "127.0.63.2",
                             size=a.size, seed=7)
        cls.lab.up()
        cls.addClassCleanup(cls.lab.down)
        cls.whole = os.path.join(cls.work, "whole.csv.zst")
        cls.whole_stats = os.path.join(cls.work, "whole.stats.json")
        res = run(["scan", "-q", "-r", cls.lab.env["LAB_RESOLVER"], "--allow-address",
                   cls.lab.env["LAB_ALLOW"], "-o", cls.whole, "--stats", cls.whole_stats,
                   cls.lab.env["LAB_NAMES"]], timeout=300)
        assert res.rc == 0, res.describe()
        r = slurm_lab("up", cls.slurm_dir, "--port", mxtest.pid_port("127.0.0.1", 7))
        cls.addClassCleanup(cls.slurm_down)
        if r.returncode == 77:
            raise unittest.SkipTest(r.stdout)
        assert r.returncode == 0, "slurm-lab up failed:\n" + r.stdout
        cls.out = os.path.join(cls.work, "results")
        cls.job = cls.submit()
        cls.states = cls.wait(cls.job, 300 * mxtest.timeout_factor())

    @classmethod
    def slurm_down(cls):
        r = slurm_lab("down", cls.slurm_dir, timeout=120)
        assert r.returncode == 0, r.stdout
        for name in ("slurmctld", "slurmd", "munged"):
            assert not os.path.exists(os.path.join(cls.slurm_dir, name + ".pid")), name

    @classmethod
    def env(cls):
        e = dict(os.environ, SLURM_CONF=os.path.join(cls.slurm_dir, "slurm.conf"))
        tmpl = os.path.join(cls.work, "unbound.conf.in")
        with open(tmpl, "w") as f:
            f.write(unbound_template(cls.lab))
        e.update(MXSCAN=mxtest.MXSCAN, MXSCAN_INPUT=cls.lab.env["LAB_NAMES"],
                 MXSCAN_OUT=cls.out, MXSCAN_ARGS="--allow-address " + cls.lab.env["LAB_ALLOW"],
                 MXSCAN_UNBOUND_CONF=tmpl, MXSCAN_UNBOUND_NET=str(TASK_NET),
                 MXSCAN_UNBOUND_PORT=str(mxtest.pid_port("127.%d.0.2" % TASK_NET, 3)))
        return e

    @classmethod
    def submit(cls):
        script = os.path.join(mxtest.SOURCE, "deploy", "slurm", "mxscan-array.sbatch")
        p = subprocess.run(["sbatch", "--parsable", "--array=1-%d" % SHARDS,
                            "--chdir", cls.work, "-o", os.path.join(cls.work, "task-%a.log"),
                            script], env=cls.env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        assert p.returncode == 0, "sbatch: " + p.stderr
        return p.stdout.strip().split(";")[0]

    @classmethod
    def wait(cls, job, timeout):
        """{task id: (JobState, ExitCode)} once no task is pending or running."""
        e = dict(os.environ, SLURM_CONF=os.path.join(cls.slurm_dir, "slurm.conf"))
        deadline = time.monotonic() + timeout
        while True:
            p = subprocess.run(["scontrol", "-o", "show", "job", job], env=e, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            states = {}
            for line in p.stdout.splitlines():
                f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
                if "ArrayTaskId" in f:
                    states[f["ArrayTaskId"]] = (f.get("JobState"), f.get("ExitCode"))
            done = states and all(s not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")
                                  for s, _ in states.values())
            if done and len(states) == SHARDS:
                return states
            if time.monotonic() > deadline:
                subprocess.run(["scancel", job], env=e, timeout=60)
                raise AssertionError("job %s not done after %d s: %r\n%s" %
                                     (job, timeout, states, cls.logs()))
            time.sleep(0.5)

    @classmethod
    def logs(cls):
        out = []
        for i in range(1, SHARDS + 1):
            p = os.path.join(cls.work, "task-%d.log" % i)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append("---- %s\n%s" % (p, f.read()[-2000:]))
        return "\n".join(out)

    def shard(self, i, ext="csv.zst"):
        return os.path.join(self.out, "shard-%d-of-%d.%s" % (i, SHARDS, ext))

    def test_1_tasks_completed(self):
        self.assertEqual(sorted(self.states), [str(i) for i in range(1, SHARDS + 1)])
        for i, (state, code) in self.states.items():
            self.assertEqual((state, code), ("COMPLETED", "0:0"), "task %s\n%s" % (i, self.logs()))
        logs = self.logs()
        for i in range(1, SHARDS + 1):
            self.assertIn("task %d of %d" % (i, SHARDS), logs)
            self.assertIn("127.%d.0.%d:" % (TASK_NET, i + 1), logs)  # its own Unbound

    def test_2_shards_disjoint_and_complete(self):
        header, whole = rows_by_line(self, self.whole)
        self.assertEqual(len(whole), len(self.lab.names()))
        seen = {}  # domain -> shard
        for i in range(1, SHARDS + 1):
            h, rows = rows_by_line(self, self.shard(i))
            self.assertEqual(h, header)
            self.assertGreater(len(rows), 0, "shard %d is empty" % i)
            for key, row in rows.items():
                if seen.get(key[0], i) != i:
                    self.fail("%s in shards %d and %d" % (key[0], seen[key[0]], i))
                seen[key[0]] = i
                if row != whole.get(key):
                    self.fail("the row of %s differs:\n%r\n%r" % (key, row, whole.get(key)))
        self.assertEqual(sum(len(rows_by_line(self, self.shard(i))[1])
                             for i in range(1, SHARDS + 1)), len(whole))
        self.assertEqual(set(seen), {d for d, _ in whole})

    def test_3_merged_stats_equal_one_machine(self):
        """`mxscan stats --run-stats` over the shards against the one-machine
        scan's --stats: identical apart from the run members README "mxscan
        stats" sets aside (the rules of integration.study_lab)."""
        from test_study_lab import SET_ASIDE, cut_members
        shards = [self.shard(i) for i in range(1, SHARDS + 1)]
        runs = ",".join(self.shard(i, "stats.json") for i in range(1, SHARDS + 1))
        merged_path = os.path.join(self.work, "merged.json")
        res = run(["stats", "--run-stats", runs, "-o", merged_path] + shards, timeout=300)
        self.assertEqual(res.rc, 0, res.describe())
        with open(merged_path) as f:
            merged_text = f.read()
        with open(self.whole_stats) as f:
            one_text = f.read()
        aside = SET_ASIDE + ["config.resolvers"]  # each task asked its own Unbound
        self.assertEqual(cut_members(merged_text, aside), cut_members(one_text, aside))
        merged = json.loads(merged_text)
        self.assertEqual(merged["domains"], len(self.lab.names()))
        self.assertEqual(sorted(merged["config"]["shard"].split(",")),
                         ["%d/%d" % (i, SHARDS) for i in range(1, SHARDS + 1)])
        one = json.loads(one_text)
        self.assertEqual(merged["queries"]["summed_over_files"], SHARDS)
        self.assertGreaterEqual(merged["queries"]["sent"], 1)
        for k in ("mail_status", "findings", "providers", "provider_findings"):
            self.assertEqual(merged[k], one[k], k)

    def test_4_report_of_shards(self):
        shards = [self.shard(i) for i in range(1, SHARDS + 1)]
        a, b = os.path.join(self.work, "shards.html"), os.path.join(self.work, "whole.html")
        self.assertEqual(run(["report", "-o", a] + shards).rc, 0)
        self.assertEqual(run(["report", "-o", b, self.whole]).rc, 0)

        def body(p):
            with open(p) as f:
                return re.sub(r'<p class="files">\d+ results files?:[^<]*</p>', "", f.read())
        self.assertEqual(body(a), body(b))


if __name__ == "__main__":
    ap = mxtest.arg_parser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--size", type=int, default=1200)
    mxtest.parse_args(need=("mxscan",), parser=ap)
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [t for t in ("slurmctld", "slurmd", "munged", "sbatch", "scontrol")
               if not shutil.which(t)]
    if missing:
        print("SKIP: %s not installed (Debian slurm-wlm, munge; scripts/install-deps)"
              % ", ".join(missing), file=sys.stderr)
        sys.exit(77)
    mxtest.require_lab_tools(skip=False)
    unittest.main(verbosity=2)

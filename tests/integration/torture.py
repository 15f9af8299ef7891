#!/usr/bin/env python3
"""torture.py - liveness and determinism of the scan engine under stress.

Generates a genlab population with the "torture" profile (thousands of
domains sharing a few exchanges and SPF include trees, deep and looping
include chains, many names behind lame delegations: timeouts and SERVFAIL
storms through Unbound), serves it with the real lab (NSD straight, and
Unbound in front), and scans it again and again with random engine
settings: --threads, --concurrency, --window, --reorder-window,
--cache-size (down to 64 entries, far below the working set, so that
entries are evicted while others wait on them), --timeout, --retries,
--rate and --checks. Some runs are stopped by SIGTERM at a random moment
and resumed.

Every run must end by itself (a run killed by the time limit is a hang),
exit 0 (143 then 0 for the stopped ones), and give one row per input line,
in input order, with the expected domain column. Runs with the default
checks must also agree with the lab's ground truth on every row outside
the names whose truth needs a recursive resolver, except rows that say
honestly that a look-up failed (those are counted and bounded).

  torture.py --mxscan PATH [--source DIR] [--size N] [--runs N] [--seed S]
             [--run-timeout SEC] [--report FILE] [--keep]

Exit status 0 when every run passed. Each run's command line is printed,
so a failing run can be replayed by hand (the lab stays up with --keep).
"""
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import mxtest
import genlab  # the generator's own input normalisation (datasets/, put on sys.path by mxtest)

FAILURE_MARKERS = ("domain_lookup_failed", "mx_lookup_failed")


def log_uniform(rng, lo, hi):
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def choose_settings(rng, path):
    """Random engine settings for one run."""
    threads = rng.choice([1, 1, 2, 2, 3, 4, 7])
    conc = log_uniform(rng, 1, 4000)
    if rng.random() < 0.15:
        conc = rng.choice([1, 2, 3])
    window = log_uniform(rng, 1, 8192)
    cache = rng.choice([64, 64, 100, 500, 2000, log_uniform(rng, 64, 300000)])
    reorder = rng.choice([1, window, window * 4, log_uniform(rng, 1, 200000)])
    s = {
        "path": path,
        "threads": threads,
        "concurrency": conc,
        "window": window,
        "reorder-window": max(1, reorder),
        "cache-size": cache,
        "cache-max-age": rng.choice([0, 600, 1]),
        "timeout": rng.choice([800, 1000, 1500, 2000]),
        "retries": rng.choice([1, 2, 2]),
        "rate": rng.choice([0, 0, 0, rng.choice([3000, 8000, 20000])]),
        "checks": rng.choice(["mx,spf,dmarc", "mx,spf,dmarc", "mx,spf,dmarc", "mx", "mx,spf",
                              "mx,dmarc"]),
    }
    return s


def scan_cmd(env, s, out):
    res = env["LAB_NSD"] if s["path"] == "nsd" else env["LAB_RESOLVER"]
    extra = ["--stall-timeout", "10"]
    for k in ("threads", "concurrency", "window", "reorder-window", "cache-size",
              "cache-max-age", "timeout", "retries", "rate", "checks"):
        extra += ["--" + k, str(s[k])]
    return [mxtest.MXSCAN] + mxtest.scan_args(res, out, extra, [env["LAB_NAMES"]],
                                              allow=env["LAB_ALLOW"])


class Torture:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random("torture-%s" % a.seed)
        self.tmp = tempfile.mkdtemp(prefix="mxtorture-")
        self.lab = mxtest.Lab(os.path.join(self.tmp, "lab"), "127.0.0.91", "127.0.0.92",
                              size=a.size, seed=a.seed, profile="torture")

    def up(self):
        self.lab.up()
        self.lines = self.lab.names()
        self.expected_domain = [genlab.normalise_input(v)[0] for v in self.lines]
        self.truth = {r["domain"]: r for r in self.lab.truth()}
        self.recursive_only = self.lab.recursive_only()

    def down(self):
        self.lab.down()
        if not self.a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def check_rows(self, s, out):
        """Returns a list of problems (empty: fine) and the count of honest failures."""
        _, rows = mxtest.read_csv(out)
        problems = []
        if len(rows) != len(self.lines):
            problems.append("%d rows for %d input lines" % (len(rows), len(self.lines)))
        for i, (r, want) in enumerate(zip(rows, self.expected_domain)):
            if r["domain"] != want:
                problems.append("row %d: domain %r, expected %r (input order lost?)"
                                % (i + 1, r["domain"], want))
                break
        honest = 0
        if s["checks"] == "mx,spf,dmarc" and not problems:
            bad = []
            compared = 0
            for r in rows:
                if r["domain"] not in self.truth:
                    bad.append("%s: a domain the truth does not have" % r["domain"])
                    continue
                if r["domain"] in self.recursive_only:
                    continue
                t = self.truth[r["domain"]]
                compared += 1
                got = (r["status"], r["mail_status"], r["findings"])
                exp = (t["status"], t["mail_status"], t["findings"])
                if got == exp:
                    continue
                if (r["status"] in ("TIMEOUT", "SERVFAIL", "REFUSED")
                        or any(m in r["findings"].split(";") for m in FAILURE_MARKERS)
                        or r["spf_result"] == "temperror"
                        or r["dmarc_source"] == "lookup_failed"):
                    honest += 1
                    continue
                bad.append("%s: got %s, truth %s" % (r["domain"], got, exp))
            if bad:
                problems.append("%d rows disagree with the ground truth without a failure "
                                "marker, e.g.\n    %s" % (len(bad), "\n    ".join(bad[:5])))
            if honest > max(20, len(rows) // 50):
                problems.append("%d rows with failed look-ups outside the lame names" % honest)
            if compared < len(rows) // 2:
                problems.append("only %d of %d rows compared with the truth" % (compared, len(rows)))
        return problems, honest

    def restart_unbound(self):
        """A cold Unbound cache: failures (lame servers) are met afresh."""
        self.lab.restart()

    def one_run(self, i, report):
        path = self.rng.choice(["nsd", "unbound"])
        if path == "unbound" and i > 0 and self.rng.random() < 0.3:
            self.restart_unbound()
        s = choose_settings(self.rng, path)
        stop_at = self.rng.uniform(0.2, 3.0) if self.rng.random() < 0.2 else None
        out = os.path.join(self.tmp, "run%d.csv.zst" % i)
        for p in (out, out + ".ckpt"):
            if os.path.exists(p):
                os.unlink(p)
        cmd = scan_cmd(self.lab.env, s, out)
        shown = " ".join(cmd)
        problems = []
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stopped = False
        if stop_at is not None:
            try:
                p.wait(stop_at)
            except subprocess.TimeoutExpired:
                t1 = time.monotonic()
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(2.0 * self.a.slowdown)
                    stopped = True
                    if p.returncode != 143:
                        problems.append("SIGTERM: exit %s, expected 143" % p.returncode)
                except subprocess.TimeoutExpired:
                    problems.append("SIGTERM did not end the scan within %.1f s"
                                    % (2.0 * self.a.slowdown))
                took = time.monotonic() - t1
        try:
            _, err = p.communicate(timeout=self.a.run_timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            problems.append("HANG: still running after %d s (killed)" % self.a.run_timeout)
        rc = p.returncode
        if stopped and not problems:
            r2 = subprocess.run(cmd[:2] + ["--resume"] + cmd[2:], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, timeout=self.a.run_timeout)
            rc, err = r2.returncode, r2.stderr
        elif not problems and rc != 0:
            problems.append("exit %s" % rc)
        if not problems and rc == 0:
            pr, honest = self.check_rows(s, out)
            problems += pr
        else:
            honest = 0
        el = time.monotonic() - t0
        status = "FAIL" if problems else "ok"
        line = "run %3d %-4s %6.1f s %-7s %s%s" % (
            i + 1, status, el, path, " ".join("%s=%s" % (k, s[k]) for k in s if k != "path"),
            (" SIGTERM@%.1fs(%.2fs)+resume" % (stop_at, took)) if stopped else "")
        if honest:
            line += " honest-failures=%d" % honest
        print(line, flush=True)
        report.append(line)
        if problems:
            msg = "  command: %s\n  %s\n  stderr: %s" % (
                shown, "\n  ".join(problems),
                err.decode("utf-8", "replace")[-2000:] if err else "")
            print(msg, flush=True)
            report.append(msg)
        return not problems, el

    def run(self):
        report = []
        self.up()
        ok = 0
        times = []
        try:
            for i in range(self.a.runs):
                good, el = self.one_run(i, report)
                ok += good
                times.append(el)
        finally:
            self.down()
        summary = ("torture: %d of %d runs passed (population %d names, seed %s; "
                   "run time min %.1f s, median %.1f s, max %.1f s)"
                   % (ok, self.a.runs, self.a.size, self.a.seed, min(times),
                      sorted(times)[len(times) // 2], max(times)))
        print(summary, flush=True)
        if self.a.report:
            with open(self.a.report, "w") as f:
                f.write("\n".join(report + [summary]) + "\n")
        return ok == self.a.runs


def main():
    ap = mxtest.arg_parser(description=__doc__.split("\n\n")[0], add_help=True)
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", default=str(int(time.time()) % 100000))
    ap.add_argument("--run-timeout", type=int, default=300)
    ap.add_argument("--report")
    ap.add_argument("--keep", action="store_true")
    a = mxtest.parse_args(need=("mxscan",), parser=ap, unittest_args=False)
    a.slowdown = mxtest.timeout_factor()
    print("torture: seed %s (replay with --seed %s)" % (a.seed, a.seed), flush=True)
    return 0 if Torture(a).run() else 1


if __name__ == "__main__":
    sys.exit(main())

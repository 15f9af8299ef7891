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

  torture.py --mxscan PATH --source DIR [--size N] [--runs N] [--seed S]
             [--run-timeout SEC] [--report FILE] [--keep]

Exit status 0 when every run passed. Each run's command line is printed,
so a failing run can be replayed by hand (the lab stays up with --keep).
"""
import argparse
import csv
import io
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

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


def scan_cmd(mxscan, lab, s, names, out):
    res = lab["LAB_NSD"] if s["path"] == "nsd" else lab["LAB_RESOLVER"]
    cmd = [mxscan, "scan", "-q", "-r", res, "-o", out, "--allow-address", lab["LAB_ALLOW"],
           "--stall-timeout", "10"]
    for k in ("threads", "concurrency", "window", "reorder-window", "cache-size",
              "cache-max-age", "timeout", "retries", "rate", "checks"):
        cmd += ["--" + k, str(s[k])]
    cmd.append(names)
    return cmd


def read_rows(path):
    if path.endswith(".csv"):
        data = open(path, "rb").read()
    else:
        data = subprocess.run(["zstd", "-dc", "-q", path], stdout=subprocess.PIPE,
                              check=True).stdout
    rd = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), strict=True)
    rows = list(rd)
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:]], header


class Torture:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random("torture-%s" % a.seed)
        self.tmp = tempfile.mkdtemp(prefix="mxtorture-")
        self.lab = {}
        self.labdir = os.path.join(self.tmp, "lab")
        sys.path.insert(0, os.path.join(a.source, "datasets"))
        import genlab  # the generator's own input normalisation
        self.genlab = genlab

    def up(self):
        port = 40000 + (os.getpid() % 10000) * 2
        cmd = [os.path.join(self.a.source, "scripts", "lab"), "up", self.labdir,
               "--size", str(self.a.size), "--seed", str(self.a.seed), "--profile", "torture",
               "--nsd-addr", "127.0.0.91", "--nsd-port", str(port),
               "--unbound-addr", "127.0.0.92", "--unbound-port", str(port + 1)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=900)
        for line in open(os.path.join(self.labdir, "lab.env")):
            k, _, v = line.strip().partition("=")
            self.lab[k] = v.strip("'")
        self.lines = open(self.lab["LAB_NAMES"], encoding="utf-8").read().split("\n")[:-1]
        self.expected_domain = [self.genlab.normalise_input(v)[0] for v in self.lines]
        self.truth = {r["domain"]: r for r in
                      csv.DictReader(open(self.lab["LAB_TRUTH"], encoding="utf-8"))}
        self.recursive_only = set(open(self.lab["LAB_RECURSIVE_ONLY"]).read().split())

    def down(self):
        subprocess.run([os.path.join(self.a.source, "scripts", "lab"), "down", self.labdir],
                       stdout=subprocess.DEVNULL, timeout=120)
        if not self.a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def check_rows(self, s, out):
        """Returns a list of problems (empty: fine) and the count of honest failures."""
        rows, header = read_rows(out)
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
            for r in rows:
                t = self.truth.get(r["domain"])
                if t is None or r["domain"] in self.recursive_only:
                    continue
                got = (r["status"], r["mail_status"], r["findings"])
                exp = (t["status"], t["mail_status"], t["findings"])
                if got == exp:
                    continue
                if (r["status"] in ("TIMEOUT", "SERVFAIL", "REFUSED")
                        or any(m in r["findings"].split(";") for m in FAILURE_MARKERS)
                        or r.get("spf_result") == "temperror"
                        or r.get("dmarc_source") == "lookup_failed"):
                    honest += 1
                    continue
                bad.append("%s: got %s, truth %s" % (r["domain"], got, exp))
            if bad:
                problems.append("%d rows disagree with the ground truth without a failure "
                                "marker, e.g.\n    %s" % (len(bad), "\n    ".join(bad[:5])))
            if honest > max(20, len(rows) // 50):
                problems.append("%d rows with failed look-ups outside the lame names" % honest)
        return problems, honest

    def restart_unbound(self):
        """A cold Unbound cache: failures (lame servers) are met afresh."""
        lab = os.path.join(self.a.source, "scripts", "lab")
        subprocess.run([lab, "down", self.labdir], stdout=subprocess.DEVNULL, timeout=120)
        self.up()

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
        cmd = scan_cmd(self.a.mxscan, self.lab, s, self.lab["LAB_NAMES"], out)
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mxscan", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", default=str(int(time.time()) % 100000))
    ap.add_argument("--run-timeout", type=int, default=300)
    ap.add_argument("--report")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    try:
        a.slowdown = float(os.environ.get("MX_TEST_SLOWDOWN", "1"))
    except ValueError:
        a.slowdown = 1.0
    a.mxscan = os.path.abspath(a.mxscan)
    print("torture: seed %s (replay with --seed %s)" % (a.seed, a.seed), flush=True)
    return 0 if Torture(a).run() else 1


if __name__ == "__main__":
    sys.exit(main())

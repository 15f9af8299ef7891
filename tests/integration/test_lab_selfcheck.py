#!/usr/bin/env python3
"""integration.lab_selfcheck: the test lab itself works.

Usage: test_lab_selfcheck.py [--source DIR]

Starts a 1,000-name lab (the sample parameters) in a temporary directory on
free loopback ports, checks that datasets/sample.txt is the generated name
list, that truth.csv is well-formed, that every finding code of the default
checks occurs a few times and no code of the opt-in checks at all, queries
a handful of names through Unbound and straight at NSD with a stdlib DNS
client, replays every question the reference model asked against both
servers, checks that "up" is idempotent, then stops the lab and checks that
the processes are gone.  Exit 77 (skip) if nsd or
unbound is not installed.
"""
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

import mxtest
import genlab      # datasets/ and scripts/lab.d/ are on sys.path through mxtest
import labdns

SAMPLE_SIZE, SAMPLE_SEED = 1000, 1
MIN_PER_CODE = 3

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is gone for our purposes
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def check_truth(lab):
    """truth.csv: one well-formed row per input line, code coverage."""
    names = lab.names()
    try:
        rows = lab.truth()   # header, statuses, known codes in order: checked there
    except AssertionError as e:
        check(False, "truth.csv: %s" % e)
        return
    check(len(rows) == len(names) == SAMPLE_SIZE, "one truth row per line (%d rows, %d lines)"
          % (len(rows), len(names)))
    counts = {c: 0 for c in mxtest.FINDING_CODES}
    for line, row in zip(names, rows):
        for c in mxtest.finding_list(row):
            counts[c] += 1
        if row["status"] == "INVALID":
            check(row["domain"] == line.strip(), "invalid row domain %r for line %r"
                  % (row["domain"], line))
        else:
            check(row["domain"] == genlab.normalise_input(line)[0], "domain %r for line %r"
                  % (row["domain"], line))
    for c in mxtest.DEFAULT_CODES:
        check(counts[c] >= MIN_PER_CODE,
              "code %s occurs %d times (< %d)" % (c, counts[c], MIN_PER_CODE))
    for c in mxtest.OPT_IN_CODES:
        check(counts[c] == 0, "the lab's truth has the opt-in code %s (%d rows), which a default "
              "scan never reports" % (c, counts[c]))
    print("code counts:", counts)


def check_by_hand(lab):
    """A handful of names through Unbound and at NSD."""
    scen = {}
    with open(lab.path("scenarios.csv"), newline="", encoding="utf-8") as f:
        _, rows = mxtest.parse_rows(list(csv.reader(f, strict=True)), "scenarios.csv")
    for row in rows:
        scen.setdefault(row["mx"], []).append(row["domain"])
    google = [d for d in scen["google"] if d.count(".") == 1][0]
    nxname = scen["nx"][0]
    lame = scen["lame_domain"][0]
    want_google = sorted([(1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com"),
                          (5, "alt2.aspmx.l.google.com"), (10, "alt3.aspmx.l.google.com"),
                          (10, "alt4.aspmx.l.google.com")])
    for where, addr, port, rd in (("unbound", lab.unbound_addr, lab.unbound_port, True),
                                  ("nsd", lab.nsd_addr, lab.nsd_port, False)):
        a = labdns.query(addr, port, google, "MX", rd=rd)
        check(a["rcode"] == "NOERROR" and
              sorted(x[3] for x in a["answer"] if x[1] == "MX") == want_google,
              "%s: MX of %s: %s" % (where, google, a))
        a = labdns.query(addr, port, nxname, "MX", rd=rd)
        check(a["rcode"] == "NXDOMAIN", "%s: %s should be NXDOMAIN: %s" % (where, nxname, a))
        a = labdns.query(addr, port, "localhost", "A", rd=rd)
        check([x[3] for x in a["answer"] if x[1] == "A"] == ["127.0.0.1"],
              "%s: localhost A: %s" % (where, a))
        a = labdns.query(addr, port, "192.0.2.1", "A", rd=rd)
        check(a["rcode"] == "NXDOMAIN", "%s: 192.0.2.1. should be NXDOMAIN: %s" % (where, a))
        a = labdns.query(addr, port, "aspmx.l.google.com", "A", rd=rd)
        check([x[3] for x in a["answer"] if x[1] == "A"] == ["198.51.100.10"],
              "%s: aspmx.l.google.com A: %s" % (where, a))
    a = labdns.query(lab.unbound_addr, lab.unbound_port, lame, "MX", timeout=5)
    check(a["rcode"] == "SERVFAIL", "unbound: lame %s should SERVFAIL: %s" % (lame, a))
    a = labdns.query(lab.nsd_addr, lab.nsd_port, "test", "SOA", rd=False)
    check(a["aa"] and a["rcode"] == "NOERROR", "nsd: authoritative for test.")
    return google


def main():
    mxtest.parse_args(need=(), unittest_args=False)
    mxtest.require_lab_tools(skip=True)
    src = mxtest.SOURCE
    tmp = tempfile.mkdtemp(prefix="mxlab-selfcheck-")
    lab = mxtest.Lab(tmp, "127.0.0.83", "127.0.0.84", size=SAMPLE_SIZE, seed=SAMPLE_SEED)
    started = False
    try:
        t0 = time.monotonic()
        try:
            print(lab.up())
        except RuntimeError as e:
            check(False, str(e))
            return 1
        started = True
        print("lab up in %.1f s" % (time.monotonic() - t0))
        env = lab.env
        check(env["LAB_RESOLVER"] == "%s:%d" % (lab.unbound_addr, lab.unbound_port),
              "lab.env LAB_RESOLVER")
        check(env["LAB_NSD"] == "%s:%d" % (lab.nsd_addr, lab.nsd_port), "lab.env LAB_NSD")
        check(env["LAB_ALLOW"] == "198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48", "LAB_ALLOW")

        # ---- the committed sample is the generator's output
        with open(os.path.join(src, "datasets", "sample.txt"), "rb") as f:
            sample = f.read()
        with open(lab.path("names.txt"), "rb") as f:
            names_raw = f.read()
        check(sample == names_raw, "datasets/sample.txt differs from genlab.py --size %d "
              "--seed %s names.txt (regenerate it and update the README)" % (SAMPLE_SIZE, SAMPLE_SEED))

        check_truth(lab)
        google = check_by_hand(lab)

        # ---- every question the model asked, on both paths
        for extra in ([], ["--direct"]):
            r = subprocess.run([sys.executable, os.path.join(src, "scripts", "lab.d", "verify.py"),
                                tmp] + extra, capture_output=True, text=True)
            print(r.stdout + r.stderr)
            check(r.returncode == 0, "verify.py %s found mismatches" % " ".join(extra))

        # ---- idempotent up, status
        pids = lab.pids()
        out = lab.up()
        check("already running" in out, "second up: %s" % out)
        check(lab.pids() == pids, "second up restarted a daemon: %s, then %s" % (pids, lab.pids()))
        r = lab.status()
        check(r.returncode == 0, "status while running: %s" % r.stdout)
        procs = [pids["nsd"], pids["unbound"]] + children(pids["nsd"])
        print("lab processes:", procs)

        # ---- down: everything gone
        r = lab.down()
        started = False
        check(r.returncode == 0, "down failed: %s" % r.stdout)
        left = [p for p in procs if pid_alive(p)]
        check(not left, "processes still alive after down: %s" % left)
        r = lab.status()
        check(r.returncode != 0, "status after down should fail")
        try:
            labdns.query(lab.unbound_addr, lab.unbound_port, google, "MX", timeout=0.5, tries=1)
            check(False, "unbound still answers after down")
        except TimeoutError:
            pass
    finally:
        if started:
            lab.down()
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("lab directory kept for inspection:", tmp)
    print("lab_selfcheck: %s" % ("FAILED (%d)" % len(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

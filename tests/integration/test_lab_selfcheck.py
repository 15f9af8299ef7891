#!/usr/bin/env python3
"""integration.lab_selfcheck: the test lab itself works.

Usage: test_lab_selfcheck.py SOURCE_DIR

Starts a 1,000-name lab (the sample parameters) in a temporary directory on
free loopback ports, checks that datasets/sample.txt is the generated name
list, that truth.csv is well-formed and every finding code (except smtp_*)
occurs a few times, queries a handful of names through Unbound and straight
at NSD with a stdlib DNS client, replays every question the reference model
asked against both servers, checks that "up" is idempotent, then stops the
lab and checks that the processes are gone.  Exit 77 (skip) if nsd or
unbound is not installed.
"""
import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SAMPLE_SIZE, SAMPLE_SEED = 1000, "1"
MIN_PER_CODE = 3

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


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


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            env[k] = v.strip("'")
    return env


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


def main(argv):
    if len(argv) != 1:
        print(__doc__)
        return 2
    src = os.path.abspath(argv[0])
    for tool in ("nsd", "unbound", "nsd-checkconf", "unbound-checkconf"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            print("SKIP: %s not installed" % tool)
            return 77
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    sys.path.insert(0, os.path.join(src, "scripts", "lab.d"))
    sys.path.insert(0, os.path.join(src, "datasets"))
    import labdns
    import genlab

    lab = os.path.join(src, "scripts", "lab")
    tmp = tempfile.mkdtemp(prefix="mxlab-selfcheck-")
    nsd_addr, ub_addr = "127.0.0.83", "127.0.0.84"
    nsd_port, ub_port = free_port(nsd_addr), free_port(ub_addr)
    args = ["--size", str(SAMPLE_SIZE), "--seed", SAMPLE_SEED,
            "--nsd-addr", nsd_addr, "--nsd-port", str(nsd_port),
            "--unbound-addr", ub_addr, "--unbound-port", str(ub_port)]
    started = False
    try:
        t0 = time.monotonic()
        r = subprocess.run([lab, "up", tmp] + args, capture_output=True, text=True)
        print(r.stdout + r.stderr)
        if not check(r.returncode == 0, "scripts/lab up failed (%d)" % r.returncode):
            return 1
        started = True
        print("lab up in %.1f s" % (time.monotonic() - t0))
        env = read_env(os.path.join(tmp, "lab.env"))
        check(env["LAB_RESOLVER"] == "%s:%d" % (ub_addr, ub_port), "lab.env LAB_RESOLVER")
        check(env["LAB_NSD"] == "%s:%d" % (nsd_addr, nsd_port), "lab.env LAB_NSD")
        check(env["LAB_ALLOW"] == "198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48", "LAB_ALLOW")

        # ---- the committed sample is the generator's output
        with open(os.path.join(src, "datasets", "sample.txt"), "rb") as f:
            sample = f.read()
        with open(os.path.join(tmp, "names.txt"), "rb") as f:
            names_raw = f.read()
        check(sample == names_raw, "datasets/sample.txt differs from genlab.py --size %d "
              "--seed %s names.txt (regenerate it and update the README)" % (SAMPLE_SIZE, SAMPLE_SEED))

        # ---- truth.csv: shape and code coverage
        names = names_raw.decode("utf-8").split("\n")[:-1]
        with open(os.path.join(tmp, "truth.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        check(rows[0] == ["domain", "status", "mail_status", "findings"], "truth header")
        rows = rows[1:]
        check(len(rows) == len(names) == SAMPLE_SIZE, "one truth row per line (%d rows, %d lines)"
              % (len(rows), len(names)))
        counts = {c: 0 for c in genlab.CODES}
        statuses = {"NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT", "INVALID"}
        mails = {"ok", "degraded", "broken", "implicit", "no_mail", "nxdomain", "unknown", "invalid"}
        for line, row in zip(names, rows):
            dom, st, mail, fnd = row
            codes = fnd.split(";") if fnd else []
            check(st in statuses and mail in mails, "bad status row %r" % row)
            check(all(c in counts for c in codes), "unknown code in %r" % row)
            check(codes == sorted(codes, key=genlab.CODE_ORDER.get), "code order in %r" % row)
            for c in codes:
                counts[c] += 1
            if st == "INVALID":
                check(dom == line.strip(), "invalid row domain %r for line %r" % (dom, line))
            else:
                check(dom == genlab.normalise_input(line)[0], "domain %r for line %r" % (dom, line))
        for c, n in counts.items():
            if not c.startswith("smtp_"):
                check(n >= MIN_PER_CODE, "code %s occurs %d times (< %d)" % (c, n, MIN_PER_CODE))
        print("code counts:", counts)

        # ---- a handful of names by hand, through Unbound and at NSD
        scen = {}
        with open(os.path.join(tmp, "scenarios.csv"), newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                scen.setdefault(row["mx"], []).append(row["domain"])
        google = [d for d in scen["google"] if d.count(".") == 1][0]
        nxname = scen["nx"][0]
        lame = scen["lame_domain"][0]
        want_google = sorted([(1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com"),
                              (5, "alt2.aspmx.l.google.com"), (10, "alt3.aspmx.l.google.com"),
                              (10, "alt4.aspmx.l.google.com")])
        for where, addr, port, rd in (("unbound", ub_addr, ub_port, True),
                                      ("nsd", nsd_addr, nsd_port, False)):
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
        a = labdns.query(ub_addr, ub_port, lame, "MX", timeout=5)
        check(a["rcode"] == "SERVFAIL", "unbound: lame %s should SERVFAIL: %s" % (lame, a))
        a = labdns.query(nsd_addr, nsd_port, "test", "SOA", rd=False)
        check(a["aa"] and a["rcode"] == "NOERROR", "nsd: authoritative for test.")

        # ---- every question the model asked, on both paths
        for extra in ([], ["--direct"]):
            r = subprocess.run([sys.executable, os.path.join(src, "scripts", "lab.d", "verify.py"),
                                tmp] + extra, capture_output=True, text=True)
            print(r.stdout + r.stderr)
            check(r.returncode == 0, "verify.py %s found mismatches" % " ".join(extra))

        # ---- idempotent up, status
        pids = {}
        for n in ("nsd", "unbound"):
            with open(os.path.join(tmp, n + ".pid")) as f:
                pids[n] = int(f.read().strip())
        r = subprocess.run([lab, "up", tmp] + args, capture_output=True, text=True)
        check(r.returncode == 0 and "already running" in r.stdout, "second up: %s" % r.stdout)
        for n in ("nsd", "unbound"):
            with open(os.path.join(tmp, n + ".pid")) as f:
                check(int(f.read().strip()) == pids[n], "second up restarted %s" % n)
        r = subprocess.run([lab, "status", tmp], capture_output=True, text=True)
        check(r.returncode == 0, "status while running: %s" % r.stdout)
        procs = [pids["nsd"], pids["unbound"]] + children(pids["nsd"])
        print("lab processes:", procs)

        # ---- down: everything gone
        r = subprocess.run([lab, "down", tmp], capture_output=True, text=True)
        started = False
        check(r.returncode == 0, "down failed: %s" % (r.stdout + r.stderr))
        left = [p for p in procs if pid_alive(p)]
        check(not left, "processes still alive after down: %s" % left)
        r = subprocess.run([lab, "status", tmp], capture_output=True, text=True)
        check(r.returncode != 0, "status after down should fail")
        try:
            labdns.query(ub_addr, ub_port, google, "MX", timeout=0.5, tries=1)
            check(False, "unbound still answers after down")
        except TimeoutError:
            pass
    finally:
        if started:
            subprocess.run([lab, "down", tmp])
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("lab directory kept for inspection:", tmp)
    print("lab_selfcheck: %s" % ("FAILED (%d)" % len(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""The transport-security modules (MTA-STS, TLS-RPT, DANE) against a lab that
is real on every layer: scripts/lab.d/policy-lab starts DNSSEC-signed zones
on NSD with a validating Unbound (signed and unsigned delegations, a broken
signature), nginx serving MTA-STS policies with lab-CA certificates (valid,
expired, wrong name, redirect, 404, oversized, malformed, wrong content type,
modes enforce/testing/none) and Postfix instances whose certificates the
TLSA records match or not (DANE-EE 3 x x, DANE-TA 2 1 1). tests/policy/
policy_cli drives the modules; every case must agree exactly with the lab's
ground truth (DIR/truth.json), and:
  * the AD bit is honest: set for the signed zone, clear for the unsigned
    delegation, and the bogus TLSA answer fails;
  * one fetch per policy host (a repeated domain is answered from the cache),
    and nginx saw no request that followed the redirect;
  * every connection stayed on 127.0.0.0/8 (nginx's and Postfix's logs).
Exit 77 (skip) only when a package cannot be installed (or no root).
"""
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


def compare(truth, got):
    for d, t in sorted(truth.items()):
        g = got.get(d)
        if not check(g is not None, "%s: no result" % d):
            continue
        for k, v in t.items():
            if k == "exchanges":
                gx = {x["owner"]: x for x in g["exchanges"]}
                for ex in v:
                    gg = gx.get(ex["owner"])
                    check(gg is not None and all(gg.get(kk) == vv for kk, vv in ex.items()),
                          "%s: exchange %s: want %s, got %s" % (d, ex["owner"], ex, gg))
            else:
                check(g.get(k) == v, "%s: %s: want %r, got %r" % (d, k, v, g.get(k)))


def run_lab(a, env):
    """policy_cli over every case of the running lab (env: its lab.env)."""
    names = [l.strip() for l in open(env["POLICY_NAMES"]) if l.strip()]
    truth = json.load(open(env["POLICY_TRUTH"]))
    cmd = [a.cli, "--resolver", env["POLICY_RESOLVER"], "--allow", env["POLICY_ALLOW"],
           "--https-ca", env["POLICY_HTTPS_CA"], "--https-port", env["POLICY_HTTPS_PORT"],
           "--smtp-ca", env["POLICY_SMTP_CA"], "--ehlo", "probe.lab.test"]
    # every case, then one repeated: its policy must come from the cache
    stdin = "\n".join(names + ["sts-enforce.lab.test"]) + "\n"
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300)
    sys.stderr.write(r.stderr)
    check(r.returncode == 0, "policy_cli exited %d" % r.returncode)
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    check(len(lines) == len(names) + 1, "%d lines for %d names" % (len(lines), len(names) + 1))
    got = {}
    for g in lines[:len(names)]:
        got[g["domain"]] = g
    compare(truth, got)
    print("%d cases compared with the ground truth" % len(truth))
    # the AD bit, straight from the resolver's answers
    ex = {x["name"]: x for g in lines for x in g["exchanges"]}
    check(ex["mx-ok.lab.test"]["addr_ad"] is True, "signed zone: AD set on addresses")
    check(ex["mx.insec.test"]["addr_ad"] is False, "unsigned delegation: AD clear")
    check(ex["mx.bogus.test"]["addr_ad"] is True, "bogus zone: the addresses still validate")
    # one fetch per policy host
    stats = json.loads([l for l in r.stderr.splitlines() if l.startswith("{")][-1])
    sts_hosts = len([d for d, t in truth.items() if t.get("sts_fetch", "-") != "-"])
    check(stats["fetches"] == sts_hosts,
          "fetches %d, want one per policy host (%d)" % (stats["fetches"], sts_hosts))
    check(stats["fetch_cached"] == 1, "the repeated domain came from the cache: %r" % stats)
    check(lines[-1]["sts_fetch"] == "ok" and lines[-1]["sts_mode"] == "enforce",
          "the cached answer is the policy")
    # nginx: one GET per host, the redirect not followed, loopback only
    log = open(os.path.join(a.workdir, "nginx", "access.log")).read().splitlines()
    # (the two certificate failures end before any HTTP request)
    http = len([d for d, t in truth.items()
                if t.get("sts_fetch", "-") not in ("-", "cert_invalid")])
    check(len(log) == http, "nginx saw %d requests, want %d" % (len(log), http))
    check(all(l.startswith("127.") for l in log), "nginx clients on loopback only")
    check(not any("www." in l for l in log), "no request followed the redirect")
    # Postfix saw the probes from loopback only
    for n in range(1, 11):
        ml = os.path.join(env["POLICY_PF"], "pf%d" % n, "maillog")
        if os.path.exists(ml):
            for l in open(ml, errors="replace"):
                m = re.search(r"connect from \S*\[([0-9.]+)\]", l)
                if m:
                    check(m.group(1).startswith("127."), "postfix client %s" % m.group(1))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--net", default="127.0.30")
    a = ap.parse_args()
    rc = mxtest.policy_lab_run(a.source, a.workdir, a.net, lambda env: run_lab(a, env))
    if rc:
        return rc
    if FAILS:
        print("%d failures" % len(FAILS))
        return 1
    print("policy lab: all cases agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Authoritative consistency against the multi-server lab (issue 15).

  test_consistency_lab.py --cli PATH --source DIR --workdir DIR

Starts scripts/lab.d/conslab.py (NSD instances serving different versions
of the same zones on 127.0.40.0/24, a parent, Unbound, a silent listener, a
responder without AA), then runs the test driver (tests/consistency/
cons_cli: NS and addresses through Unbound and the scan engine, MX and SOA
asked directly of every address through the consistency module) and checks:

  1. exact agreement of every row with the lab's ground truth (findings and
     the three columns), one row per input line, in input order;
  2. counted at the servers (NSD's dnstap, the listeners' logs): every
     question the module sent has RD clear; no identical question reached a
     server twice although every bulk domain is in the input twice and two
     NS names share addresses; the questions seen are exactly those the
     truth implies; the truncated answer was asked again over TCP; NSD's own
     counters (nsd-control stats) agree with the dnstap counts;
  3. the per-server cap (10 q/s here) and the global cap (15 q/s over three
     servers), as the most queries any server saw in one second.
Exit 77 (skip) when the lab cannot run here (not root, NSD missing).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import conslabtest

ap = argparse.ArgumentParser()
ap.add_argument("--cli", required=True)
ap.add_argument("--source", required=True)
ap.add_argument("--workdir", required=True)
args = ap.parse_args()

WORK = os.path.abspath(args.workdir)
BULK = 40
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg)


def lab(*a):
    return conslabtest.lab(args.source, *a)


read_ndjson, settle, max_per_second = (conslabtest.read_ndjson, conslabtest.settle,
                                       conslabtest.max_per_second)


def run_cli(names, *opts):
    cmd = [args.cli, "--resolver", L["resolver"], "--port", str(L["port"]), "--allow",
           L["allow"], "--timeout-ms", "500", "--tries", "2"] + list(opts)
    t0 = time.time()
    p = subprocess.run(cmd, input="\n".join(names) + "\n", capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        print(p.stderr)
    check(p.returncode == 0, "cons_cli exit status %d" % p.returncode)
    rows = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    stats = json.loads(p.stderr.strip().splitlines()[-1]) if p.stderr.strip() else {}
    return rows, stats, t0


def module_queries(t0):
    """dnstap records of queries the module sent (not Unbound) since t0."""
    return conslabtest.module_queries(L, t0)


up = lab("up", WORK, "--bulk", str(BULK))
if up.returncode == 3:
    print("SKIP: " + up.stderr.strip())
    sys.exit(77)
if up.returncode != 0:
    print(up.stdout, up.stderr)
    lab("down", WORK)
    sys.exit(1)
try:
    L = json.load(open(os.path.join(WORK, "lab.json")))
    TRUTH = json.load(open(os.path.join(WORK, "truth.json")))
    cases = sorted(d for d in TRUTH if not d.startswith(("bulk", "rate")))
    bulk = sorted(d for d in TRUTH if d.startswith("bulk"))
    rate = sorted(d for d in TRUTH if d.startswith("rate"))
    addr_of = {name: v["address"] for name, v in L["servers"].items()}
    name_of = {v: k for k, v in addr_of.items()}

    # ---- 1. exact agreement; 2. counted at the servers --------------------
    names = cases + bulk + list(reversed(bulk))  # every bulk domain twice
    rows, stats, t0 = run_cli(names, "--server-qps", "40", "--global-qps", "200")
    check(len(rows) == len(names), "%d rows for %d input lines" % (len(rows), len(names)))
    agree = 0
    for want_name, row in zip(names, rows):
        check(row["domain"] == want_name, "row order: %s where %s" % (row["domain"], want_name))
        e = TRUTH[row["domain"]]
        got = {k: row[k] for k in ("judged", "findings", "ns_servers", "ns_mx_sets",
                                   "ns_serials")}
        if got == e:
            agree += 1
        else:
            for k in got:
                if got[k] != e[k]:
                    check(False, "%s %s: got %r, want %r" % (row["domain"], k, got[k], e[k]))
    print("rows agreeing with the ground truth: %d of %d" % (agree, len(rows)))

    # the questions the truth implies at the NSD servers (ns1..ns5)
    expect = conslabtest.expected_questions(TRUTH, names, name_of)
    settle(L["dnstap"], want=len(expect))
    q = module_queries(t0)
    check(all(not r["rd"] for r in q), "a query with RD set reached a server")
    udp, tcp = conslabtest.udp_question_counts(q)
    repeats = {k: n for k, n in udp.items() if n > 1}
    check(not repeats, "identical questions repeated at the servers: %r" % sorted(repeats)[:10])
    check(set(udp) == expect, "questions at the servers differ from the truth: extra %r, "
          "missing %r" % (sorted(set(udp) - expect)[:5], sorted(expect - set(udp))[:5]))
    check(set(tcp) == {("ns1", "bigmx.test", "MX"), ("ns2", "bigmx.test", "MX")}
          and all(n == 1 for n in tcp.values()), "TCP re-asks: %r" % tcp)
    per_server = {}
    for r in q:
        per_server[r["id"]] = per_server.get(r["id"], 0) + 1
    print("queries from the module counted at each NSD (dnstap): %s"
          % json.dumps(per_server, sort_keys=True))
    print("module counters: %s" % json.dumps(stats, sort_keys=True))
    # NSD's own counters agree with dnstap (all sources, since the lab zeroed them)
    all_tap = [r for r in read_ndjson(L["dnstap"]) if r.get("kind") == "auth_query"
               and r.get("t", 0) >= L["counters_reset"]]
    for name, v in sorted(L["servers"].items()):
        out = subprocess.run(["nsd-control", "-c", v["conf"], "stats_noreset"],
                             capture_output=True, text=True).stdout
        nq = [int(x.split("=")[1]) for x in out.splitlines() if x.startswith("num.queries=")]
        tapped = sum(1 for r in all_tap if r["id"] == name)
        check(nq and nq[0] == tapped, "%s: nsd-control num.queries %r, dnstap %d"
              % (name, nq, tapped))
    silent = [r for r in read_ndjson(L["silent_log"]) if r["src"] != L["resolver_source"]
              and r["t"] >= t0]
    noaa = [r for r in read_ndjson(L["noaa_log"]) if r["src"] != L["resolver_source"]
            and r["t"] >= t0]
    n_silent_q = sum(2 for d in set(names) if "127.0.40.18" in TRUTH[d]["ns_servers"])
    check(len(silent) <= 2 * n_silent_q, "silent server got %d packets for %d questions"
          % (len(silent), n_silent_q))
    check(len(noaa) == 2 and all(not r["rd"] for r in noaa),
          "the no-AA responder got %r" % noaa)
    print("silent server: %d packets for %d questions (2 tries each); no-AA responder: %d"
          % (len(silent), n_silent_q, len(noaa)))
    check(stats.get("not_allowed") == 2, "not allowed: %r" % stats.get("not_allowed"))
    counted = len(q) + len(silent) + len(noaa)
    check(stats.get("sent", 0) >= counted, "module sent %r, servers counted %d"
          % (stats.get("sent"), counted))

    # ---- 3. the per-server cap --------------------------------------------
    rows, stats, t0 = run_cli(rate, "--server-qps", "10", "--global-qps", "1000")
    check(all(r["findings"] == [] and r["judged"] for r in rows), "rate domains judged clean")
    settle(L["dnstap"], want=0)
    q = module_queries(t0)
    for name in ("ns1", "ns2", "ns4"):
        times = [r["t"] for r in q if r["id"] == name]
        peak = max_per_second(times)
        span = max(times) - min(times) if times else 0
        print("per-server cap 10 q/s: %s got %d queries over %.1f s, at most %d in one second"
              % (name, len(times), span, peak))
        check(len(times) == 2 * len(rate), "%s: %d queries, want %d"
              % (name, len(times), 2 * len(rate)))
        # the pacer allows 10 + 1 in any second of send times; one more for
        # the spread between sending and the server's time of receipt
        check(peak <= 10 + 2, "%s: %d queries within one second (cap 10)" % (name, peak))
        check(span >= (len(times) - 1) / 10 * 0.9, "%s: %d queries in %.1f s" % (name, len(times), span))

    # ---- 3. the global cap -------------------------------------------------
    part = rate[:20]
    rows, stats, t0 = run_cli(part, "--server-qps", "1000", "--global-qps", "15")
    settle(L["dnstap"], want=0)
    q = [r for r in module_queries(t0) if r["qname"] in set(part)]
    times = [r["t"] for r in q]
    peak = max_per_second(times)
    span = max(times) - min(times) if times else 0
    print("global cap 15 q/s: %d queries over three servers in %.1f s, at most %d in one second"
          % (len(times), span, peak))
    check(len(times) == 6 * len(part), "%d queries, want %d" % (len(times), 6 * len(part)))
    # the global pacer allows 15 + 2 in any second of send times, plus one
    # for the spread between sending and the servers' times of receipt
    check(peak <= 15 + 3, "%d queries within one second (global cap 15)" % peak)
finally:
    down = lab("down", WORK)
    if down.returncode != 0:
        print(down.stdout, down.stderr)

if failures:
    print("%d failures" % len(failures))
    sys.exit(1)
print("consistency lab: all checks passed")

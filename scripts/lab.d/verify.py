#!/usr/bin/env python3
"""verify.py DIR [--direct] [--limit N] - replay DIR/queries.jsonl (every
question genlab's reference model asked, with the answer it assumed) against
the running lab: through Unbound by default, or straight at NSD with
--direct (names under lame delegations are skipped there: NSD answers them
with a referral).  Prints mismatches; exit status 1 if there are any."""
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labdns  # noqa: E402


def load_env(d):
    env = {}
    with open(os.path.join(d, "lab.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = shlex.split(v)[0] if v else ""
    return env


def lame_zones(d):
    out = set()
    with open(os.path.join(d, "zones", "test.zone")) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[3] == "NS" and p[0] != "test.":
                out.add(p[0].rstrip(".").lower())
    return out


def under(name, zones):
    parts = name.split(".")
    return any(".".join(parts[i:]) in zones for i in range(len(parts)))


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    d = argv[0]
    direct = "--direct" in argv
    limit = None
    if "--limit" in argv:
        limit = int(argv[argv.index("--limit") + 1])
    env = load_env(d)
    if direct:
        addr, port = env["LAB_NSD_ADDR"], int(env["LAB_NSD_PORT"])
    else:
        addr, port = env["LAB_UNBOUND_ADDR"], int(env["LAB_UNBOUND_PORT"])
    lame = lame_zones(d)
    expect = []
    with open(os.path.join(d, "queries.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if direct and under(e["name"], lame):
                continue
            expect.append(e)
    if limit:
        expect = expect[:limit]
    items = [(e["name"], e["type"]) for e in expect]
    got = labdns.query_many(addr, port, items, rd=not direct, timeout=3.0, tries=3)
    bad = 0
    for e in expect:
        r = got.get((e["name"], e["type"]))
        problems = []
        if r is None:
            problems.append("no answer")
        else:
            if r["rcode"] != e["rcode"]:
                problems.append("rcode %s" % r["rcode"])
            rrs = sorted("%d %s" % x[3] if x[1] == "MX" else x[3]
                         for x in r["answer"] if x[1] == e["type"])
            if rrs != e["rrs"]:
                problems.append("rrs %s" % rrs)
            cname = any(x[1] == "CNAME" for x in r["answer"])
            if cname != e["cname"]:
                problems.append("cname %s" % cname)
            ttls = {x[2] for x in r["answer"] if x[1] == e["type"]}
            if e["type"] == "MX" and e["ttl"] is not None and rrs and ttls != {e["ttl"]}:
                problems.append("ttl %s" % sorted(ttls))
        if problems:
            bad += 1
            if bad <= 30:
                print("MISMATCH %s %s: expected %s %s cname=%s ttl=%s; got %s" % (
                    e["name"], e["type"], e["rcode"], e["rrs"], e["cname"], e["ttl"],
                    "; ".join(problems)))
    print("verify: %d questions via %s %s:%d, %d mismatches" % (
        len(expect), "NSD" if direct else "Unbound", addr, port, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Helpers shared by the tests that run the consistency lab
(scripts/lab.d/conslab.py): starting and stopping it, reading the servers'
query logs (NSD's dnstap, the listeners' logs) and counting what reached
the servers."""
import json
import os
import subprocess
import sys
import time


def lab(source, *args):
    """Runs conslab.py with args (up DIR --bulk N, down DIR, ...)."""
    script = os.path.join(source, "scripts", "lab.d", "conslab.py")
    return subprocess.run([sys.executable, script] + list(args), capture_output=True, text=True)


def read_ndjson(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def settle(path, want=0, secs=15):
    """Waits until the log has at least `want` lines and stops growing."""
    last, stable, deadline = -1, 0, time.monotonic() + secs
    while time.monotonic() < deadline:
        n = len(read_ndjson(path))
        stable = stable + 1 if n == last else 0
        if n >= want and stable >= 6:
            return
        last = n
        time.sleep(0.25)


def module_queries(lab_json, t0):
    """dnstap records of the queries that reached the NSD instances since t0
    from anyone but the lab's recursive resolver (that is: the scanner's
    direct questions)."""
    return [r for r in read_ndjson(lab_json["dnstap"])
            if r.get("kind") == "auth_query" and r.get("t", 0) >= t0
            and r.get("src") != lab_json["resolver_source"]]


def max_per_second(times):
    """The most events within any span shorter than one second."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def expected_questions(truth, domains, name_of):
    """(NSD instance, domain, "MX"|"SOA") the ground truth implies for the
    judged domains: every address in ns_servers that an NSD instance holds
    (name_of: address -> instance name) is asked both questions."""
    expect = set()
    for d in set(domains):
        e = truth[d]
        if not e["judged"]:
            continue
        for part in e["ns_servers"].split(";"):
            _, addrs = part.split("=", 1)
            for a in addrs.split(","):
                ip = a.split(" ")[0]
                if ip in name_of and name_of[ip] != "parent":
                    expect.add((name_of[ip], d, "MX"))
                    expect.add((name_of[ip], d, "SOA"))
    return expect


def udp_question_counts(queries):
    """(instance, qname, qtype) -> UDP packets, and the same for TCP."""
    udp, tcp = {}, {}
    for r in queries:
        key = (r["id"], r["qname"], r["qtype"])
        table = tcp if r["proto"] == "tcp" else udp
        table[key] = table.get(key, 0) + 1
    return udp, tcp

#!/usr/bin/env python3
"""The SMTP probe against real Postfix servers on loopback.

Starts scripts/lab.d/postfix-lab (private Debian Postfix instances on
127.0.X.1-9 and the extra addresses 127.0.X.101-120 of server 1, a lab CA
made with openssl), drives the probe through tests/smtp/smtp_probe_cli and
checks, against the servers' own logs:

  1. exact results for each of the lab servers (valid TLS, relay denied, no
     STARTTLS, expired, wrong name, 554 greeting, nothing listening,
     self-signed, missing intermediate) and for addresses outside the
     allow-list, certificate digests and notAfter against openssl's;
  2. the connection-rate cap (20 addresses at 4 connections/s);
  3. one connection per address at a time (200 RCPT probes of one address,
     20 per connection: connect/disconnect never overlap in Postfix's log);
  4. a relay-denying server is left before Postfix's error limits bite;
  5. 10,000 requests for 9,000 distinct domains over 3 addresses make at most
     a few dozen connections (the per-address cache and RCPT reuse).

Everything stays on 127.0.0.0/8. Exit 77 (skip) only when postfix cannot be
installed or run (no root).
"""
import argparse
import hashlib
import os
import random
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


TOKEN = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse(line):
    out = {}
    for k, v in TOKEN.findall(line):
        if v.startswith('"'):
            v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[k] = v
    return out


def run_cli(cli, lines, args, timeout=600):
    t0 = time.monotonic()
    p = subprocess.run([cli] + args, input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        raise SystemExit("smtp_probe_cli failed with %d" % p.returncode)
    results = [parse(l) for l in p.stdout.splitlines()]
    stats = {}
    for l in p.stderr.splitlines():
        if l.startswith("{"):
            import json
            stats = json.loads(l)
    if len(results) != len(lines):
        raise SystemExit("expected %d results, got %d" % (len(lines), len(results)))
    return results, stats, elapsed


LOGLINE = re.compile(r"^(\w{3} +\d+ \d\d:\d\d:\d\d) \S+ postfix/smtpd\[\d+\]: (connect|disconnect) from ")


class Log:
    """New lines of a Postfix maillog since the last mark."""

    def __init__(self, path):
        self.path = path
        self.mark()

    def mark(self):
        self.off = os.path.getsize(self.path)

    def new(self):
        time.sleep(0.5)  # postlogd writes asynchronously
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.off)
            return f.read()

    def sessions(self):
        """[(timestamp, 'connect'|'disconnect')] of the new lines."""
        out = []
        for l in self.new().splitlines():
            m = LOGLINE.match(l)
            if m:
                out.append((m.group(1), m.group(2)))
        return out


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                          check=True).stdout


def cert_facts(pem):
    der = openssl("x509", "-in", pem, "-outform", "DER")
    pub = openssl("x509", "-in", pem, "-pubkey", "-noout")
    spki = openssl("pkey", "-pubin", "-outform", "DER", data=pub)
    end = openssl("x509", "-in", pem, "-noout", "-enddate").decode().strip().split("=", 1)[1]
    t = datetime.strptime(end.replace("  ", " "), "%b %d %H:%M:%S %Y GMT")
    return (hashlib.sha256(der).hexdigest(), hashlib.sha256(spki).hexdigest(),
            t.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def free_net():
    used = subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True,
                          text=True).stdout
    for x in range(20, 60):
        if "inet 127.0.%d." % x not in used:
            return "127.0.%d" % x
    raise SystemExit("no free 127.0.X.0/24 on lo")


def expect(res, want, label):
    for k, v in want.items():
        got = res.get(k)
        if callable(v):
            check(v(got), "%s: %s=%r" % (label, k, got))
        else:
            check(got == v, "%s: %s=%r, want %r" % (label, k, got, v))


def phase_exact(a, lab, cli_args):
    print("== 1. exact results per server", flush=True)
    net = lab["NET"]
    servers = {}
    for n in range(1, 10):
        kind, addr, name, d = lab["SERVER_%d" % n].split()
        servers[kind] = (addr, name, d)
    logs = {k: Log(os.path.join(v[2], "maillog")) for k, v in servers.items() if k != "closed"}
    lines = ["%s %s probe-%s.lab.test" % (addr, name, kind) for kind, (addr, name, _) in servers.items()]
    lines += ["192.0.2.1 mx.example.com probe.example.com",  # documentation range
              "10.1.2.3 mx.example.com",                     # private
              "127.0.%d.1 mx.elsewhere.lab.test" % ((int(net.split(".")[2]) + 100) % 256)]
    res, stats, _ = run_cli(a.cli, lines, cli_args)
    r = {kind: res[i] for i, kind in enumerate(servers)}
    ca = os.path.join(a.workdir, "ca")
    tls_ok = {"conn": "ok", "greeting": "220", "ehlo": "250", "starttls": "1",
              "starttls_code": "220", "tls": "ok", "tls_version": "TLSv1.3", "end": "ok",
              "end_step": "none", "chain": "1", "cached": "0"}
    expect(r["ok"], dict(tls_ok, cert="valid", cert_problems="-", sni="mx-ok.lab.test",
                         rcpt="replied", mail="250", rcpt_code="250", rcpt_text=""), "ok")
    expect(r["relay"], dict(tls_ok, cert="valid", rcpt="replied", mail="250", rcpt_code="554",
                            rcpt_text="5.7.1 <postmaster@probe-relay.lab.test>: Relay access denied"),
           "relay")
    expect(r["notls"], {"conn": "ok", "greeting": "220", "ehlo": "250", "starttls": "0",
                        "tls": "not_offered", "cert": "none", "cert_sha256": "-", "end": "ok",
                        "rcpt": "replied", "rcpt_code": "250"}, "notls")
    expect(r["expired"], dict(tls_ok, cert="expired", cert_problems="expired",
                              not_after="2020-02-01T00:00:00Z", rcpt_code="250"), "expired")
    expect(r["wrongname"], dict(tls_ok, cert="wrong_name", cert_problems="wrong_name",
                                rcpt_code="250"), "wrongname")
    expect(r["reject"], {"conn": "ok", "greeting": "554", "ehlo": "0", "tls": "skipped",
                         "cert": "none", "end": "rejected", "end_step": "greeting",
                         "reply_code": "554", "rcpt": "not_reached", "rcpt_end": "rejected",
                         "mail": "0", "rcpt_code": "0",
                         "reply_text": lambda t: t is not None and "Access denied" in t}, "reject")
    expect(r["closed"], {"conn": "refused", "end": "no_connect", "end_step": "connect",
                         "greeting": "0", "rcpt": "not_reached", "rcpt_end": "no_connect"},
           "closed")
    expect(r["selfsigned"], dict(tls_ok, cert="self_signed", rcpt_code="250"), "selfsigned")
    expect(r["nochain"], dict(tls_ok, cert="incomplete_chain", cert_problems="incomplete_chain",
                              rcpt_code="250"), "nochain")
    for i in range(len(servers), len(lines)):
        expect(res[i], {"conn": "not_allowed", "end": "no_connect", "greeting": "0"},
               "outside the allow-list: " + lines[i])
    # certificate facts as openssl sees the served files
    for kind in ("ok", "relay", "expired", "wrongname", "selfsigned", "nochain"):
        sha, spki, end = cert_facts(os.path.join(ca, kind + ".pem"))
        expect(r[kind], {"cert_sha256": sha, "spki_sha256": spki, "chain_spki": spki,
                         "not_after": end}, kind + " certificate")
    check(stats.get("connections") == 9, "one connection attempt per lab server: %r" % stats)
    check(stats.get("not_allowed") == 3, "three requests refused by policy: %r" % stats)
    # the servers' side of it
    for kind, log in logs.items():
        text = log.new()
        n = len([1 for l in text.splitlines() if ": connect from " in l])
        check(n == 1, "%s: %d connections in its log" % (kind, n))
        check(" data=" not in text and "DATA" not in text, "%s: no DATA" % kind)
    relay = logs["relay"].new()
    check("Relay access denied" in relay and "helo=<probe.lab.test>" in relay,
          "relay log shows the refusal and the EHLO name")
    ok = logs["ok"].new()
    check(re.search(r"disconnect from \S+ ehlo=2 starttls=1 mail=1 rcpt=1 quit=1 commands=6", ok)
          is not None, "ok: EHLO, STARTTLS, EHLO, MAIL, RCPT, QUIT and nothing else:\n" + ok)
    check("reject: CONNECT" in logs["reject"].new(), "reject: 554 at connect")
    check("quit=1" in logs["reject"].new(), "reject: QUIT after the 554 greeting")


def phase_rate(a, lab, cli_args, log):
    print("== 2. connection rate cap", flush=True)
    net = lab["NET"]
    extra = int(lab["EXTRA"])
    lines = ["%s.%d mx-ok.lab.test" % (net, 100 + i) for i in range(1, extra + 1)]
    log.mark()
    res, stats, elapsed = run_cli(a.cli, lines, cli_args + ["--rate", "4"])
    check(all(r.get("tls") == "ok" for r in res), "all extra addresses answered with TLS")
    sess = [t for t, what in log.sessions() if what == "connect"]
    check(len(sess) == extra, "rate: %d connections logged, want %d" % (len(sess), extra))
    per_sec = {}
    for t in sess:
        per_sec[t] = per_sec.get(t, 0) + 1
    worst = max(per_sec.values()) if per_sec else 0
    print("   %d connections in %.2f s, at most %d in one logged second" % (len(sess), elapsed, worst))
    check(worst <= 5, "rate 4/s: %d connections logged in one second" % worst)
    check(elapsed >= (extra - 1) / 4.0 - 0.1, "rate 4/s: %d connections took only %.2f s" % (extra, elapsed))
    check(len(per_sec) >= (extra - 1) // 4, "rate: spread over %d seconds" % len(per_sec))


def phase_one_per_address(a, lab, cli_args, log):
    print("== 3. one connection per address at a time", flush=True)
    addr = lab["SERVER_1"].split()[1]
    lines = ["%s mx-ok.lab.test one%d.lab.test" % (addr, i) for i in range(200)]
    log.mark()
    res, stats, elapsed = run_cli(a.cli, lines, cli_args + ["--rate", "50", "--rcpt-per-conn", "20",
                                                            "--max-conns", "64"])
    check(all(r.get("rcpt_code") == "250" for r in res), "all 200 RCPT accepted")
    sess = log.sessions()
    open_now = most = 0
    for _, what in sess:
        open_now += 1 if what == "connect" else -1
        most = max(most, open_now)
    conns = len([1 for _, w in sess if w == "connect"])
    print("   %d connections, at most %d open at once, %.2f s" % (conns, most, elapsed))
    check(conns == 10, "200 RCPT at 20 per connection: %d connections" % conns)
    check(most == 1, "at most one connection at a time to %s: saw %d" % (addr, most))


def phase_relay_politeness(a, lab, cli_args):
    print("== 4. a relay-denying server", flush=True)
    addr, name, d = lab["SERVER_2"].split()[1:4]
    log = Log(os.path.join(d, "maillog"))
    lines = ["%s %s deny%d.lab.test" % (addr, name, i) for i in range(30)]
    res, stats, _ = run_cli(a.cli, lines, cli_args)
    check(all(r.get("rcpt_code") == "554" for r in res), "30 refusals")
    text = log.new()
    conns = len([1 for l in text.splitlines() if ": connect from " in l])
    print("   30 refused RCPT over %d connections" % conns)
    check(conns == 4, "8 refusals per connection: %d connections" % conns)
    check("too many errors" not in text and "421" not in text,
          "the probe leaves before Postfix's error limit")


def phase_bulk(a, lab, cli_args):
    print("== 5. 10,000 requests, 9,000 domains, 3 addresses", flush=True)
    pick = [lab["SERVER_%d" % n].split() for n in (1, 3, 4)]
    logs = [Log(os.path.join(p[3], "maillog")) for p in pick]
    rnd = random.Random(13)
    lines = []
    for i in range(9000):
        p = pick[i % 3]
        lines.append("%s %s bulk%d.lab.test" % (p[1], p[2], i))
    for _ in range(500):  # the same (address, domain) again
        i = rnd.randrange(9000)
        p = pick[i % 3]
        lines.append("%s %s bulk%d.lab.test" % (p[1], p[2], i))
    for j in range(500):  # facts only
        p = pick[j % 3]
        lines.append("%s %s" % (p[1], p[2]))
    order = list(range(len(lines)))
    rnd.shuffle(order)
    lines = [lines[i] for i in order]
    res, stats, elapsed = run_cli(a.cli, lines, cli_args)
    rcpt = [r for r in res if r.get("rcpt_domain") != "-"]
    check(len(rcpt) == 9500 and all(r.get("rcpt_code") == "250" for r in rcpt),
          "every RCPT accepted")
    check(sum(1 for r in rcpt if r.get("rcpt_cached") == "1") == 500, "500 RCPT answers from the cache")
    conns = 0
    for p, log in zip(pick, logs):
        n = len([1 for l in log.new().splitlines() if ": connect from " in l])
        print("   %s: %d connections" % (p[1], n))
        conns += n
    print("   %d connections in all, %.1f s, probe stats %s" % (conns, elapsed, stats))
    check(conns <= 36, "a few dozen connections at most: %d" % conns)
    check(conns == stats.get("connections"), "the probe counted what Postfix logged")
    check(stats.get("rcpt_sent") == 9000, "one RCPT per distinct pair: %r" % stats.get("rcpt_sent"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    labctl = os.path.join(a.source, "scripts", "lab.d", "postfix-lab")
    if os.geteuid() != 0:
        print("skip: the Postfix lab needs root (ip addr, postfix)")
        return 77
    net = free_net()
    os.makedirs(a.workdir, exist_ok=True)
    p = subprocess.run([labctl, "start", a.workdir, "--net", net, "--port", "25"], timeout=300)
    if p.returncode == 3:
        print("skip: postfix cannot be installed here")
        return 77
    if p.returncode != 0:
        subprocess.run([labctl, "stop", a.workdir])
        print("FAIL: the Postfix lab did not start")
        return 1
    try:
        lab = {}
        with open(os.path.join(a.workdir, "lab.env")) as f:
            for l in f:
                k, v = l.rstrip("\n").split("=", 1)
                lab[k] = v
        cli_args = ["--port", lab["PORT"], "--allow", net + ".0/24", "--ca-file", lab["CA"],
                    "--ehlo", "probe.lab.test"]
        log1 = Log(os.path.join(lab["SERVER_1"].split()[3], "maillog"))
        phase_exact(a, lab, cli_args)
        phase_rate(a, lab, cli_args, log1)
        phase_one_per_address(a, lab, cli_args, log1)
        phase_relay_politeness(a, lab, cli_args)
        phase_bulk(a, lab, cli_args)
    finally:
        subprocess.run([labctl, "stop", a.workdir])
    if FAILS:
        print("%d checks failed" % len(FAILS))
        return 1
    print("all SMTP probe checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Self-test for faultdns: a tiny stdlib DNS client against each fault kind.

usage: test_faultdns_self.py --faultdns PATH/TO/faultdns
Only talks to 127.0.0.1. Exit 0 on success. Starts faultdns through the
integration tests' helpers (tests/integration/mxtest.py).
"""
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "integration"))
import mxtest  # noqa: E402

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "MX": 15, "TXT": 16, "AAAA": 28, "OPT": 41}

ZONE = """\
# faultdns self-test zone
ok.test        MX    300 10 mx1.ok.test
ok.test        MX    300 20 mx2.ok.test.
ok.test        TXT   300 "v=spf1 ip4:192.0.2.0/24 -all" "part two; with space"
mx1.ok.test    A     300 192.0.2.10
mx1.ok.test    AAAA  300 2001:db8::10
leaf.ent.test  A     300 192.0.2.11
alias.test     CNAME 300 ok.test
*.wild.test    A     60  192.0.2.99
null.test      MX    300 0 .
sf.test        servfail
rf.test        refused
nxf.test       nxdomain
empty.test     empty
tc.test        MX    300 10 mx1.ok.test
tc.test        truncate
wid.test       MX    300 10 mx1.ok.test
wid.test       wrong-id
wq.test        MX    300 10 mx1.ok.test
wq.test        wrong-question
mal.test       MX    300 10 mx1.ok.test
mal.test       malformed
big.test       MX    300 10 mx1.ok.test
big.test       oversize
loop.test      compression-loop
frn.test       MX    300 10 mx1.ok.test
frn.test       foreign-records
flap.test      MX    300 10 mx1.ok.test
flap.test      flap 2
*.slow.test    delay 300
drop.test      drop
ok.test/A      delay 200
"""

FAILS = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILS.append(what)


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def make_query(name, qtype, qid=None, edns=None, rd=True):
    qid = random.randrange(65536) if qid is None else qid
    arcount = 1 if edns else 0
    msg = struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, arcount)
    msg += encode_name(name) + struct.pack(">HH", TYPES.get(qtype, qtype), 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", 41, edns, 0, 0)
    return qid, msg


class LoopError(Exception):
    pass


def read_name(msg, off):
    """Returns (name, offset after the name); follows pointers, rejects loops."""
    labels, jumped, end, seen = [], False, None, set()
    while True:
        if off >= len(msg):
            raise ValueError("name runs off the end")
        c = msg[off]
        if c & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise ValueError("cut pointer")
            ptr = ((c & 0x3F) << 8) | msg[off + 1]
            if ptr in seen or ptr == off:
                raise LoopError("compression loop at %d" % ptr)
            seen.add(ptr)
            if not jumped:
                end = off + 2
            jumped, off = True, ptr
            continue
        off += 1
        if c == 0:
            break
        labels.append(msg[off:off + c].decode("latin-1"))
        off += c
    return ".".join(labels).lower() or ".", end if jumped else off


def parse(msg):
    if len(msg) < 12:
        raise ValueError("short header")
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    r = {"id": qid, "flags": flags, "rcode": flags & 0xF, "tc": bool(flags & 0x200),
         "aa": bool(flags & 0x400), "ra": bool(flags & 0x80), "qr": bool(flags & 0x8000),
         "an": [], "ns": [], "ar": [], "counts": (qd, an, ns, ar), "qname": None}
    off = 12
    for _ in range(qd):
        r["qname"], off = read_name(msg, off)
        r["qtype"], r["qclass"] = struct.unpack(">HH", msg[off:off + 4])
        off += 4
    for sect, n in (("an", an), ("ns", ns), ("ar", ar)):
        for _ in range(n):
            start = off
            name, off = read_name(msg, off)
            if off + 10 > len(msg):
                raise ValueError("cut record header")
            rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            if off + rdlen > len(msg):
                raise ValueError("cut rdata")
            rd = msg[off:off + rdlen]
            if rtype == 15:
                data = (struct.unpack(">H", rd[:2])[0], read_name(msg, off + 2)[0])
            elif rtype in (5, 2):
                data = read_name(msg, off)[0]
            elif rtype == 1:
                data = socket.inet_ntop(socket.AF_INET, rd)
            elif rtype == 28:
                data = socket.inet_ntop(socket.AF_INET6, rd)
            elif rtype == 16:
                data, i = [], 0
                while i < len(rd):
                    data.append(rd[i + 1:i + 1 + rd[i]].decode())
                    i += 1 + rd[i]
            else:
                data = rd
            r[sect].append({"name": name, "type": rtype, "class": rclass, "ttl": ttl,
                            "data": data, "start": start})
            off += rdlen
    return r


def udp(port, msg, timeout=1.0, sock=None):
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(msg, ("127.0.0.1", port))
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        if sock is None:
            s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("tcp closed")
        buf += chunk
    return buf


def tcp_many(port, msgs, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(struct.pack(">H", len(m)) + m for m in msgs))
        out = []
        for _ in msgs:
            (n,) = struct.unpack(">H", recv_exact(s, 2))
            out.append(recv_exact(s, n))
        return out


def q(port, name, qtype, **kw):
    qid, msg = make_query(name, qtype, edns=kw.pop("edns", None))
    raw = udp(port, msg, **kw)
    return qid, raw


def start(tmp, zone_text, *extra):
    """A faultdns (mxtest.FaultDNS) with its files and a query log in tmp."""
    log = os.path.join(tmp, "query.log")
    return mxtest.FaultDNS(zone_text, ["--log", log] + list(extra), workdir=tmp), log


def main_tests(tmp):
    dns, log = start(tmp, ZONE)
    p, port, stats = dns.proc, dns.port, dns.stats_path
    try:
        # Normal MX answer: AA+RA, question echoed, owner compressed to the question.
        qid, raw = q(port, "OK.test", "MX")
        r = parse(raw)
        check(r["id"] == qid and r["qr"] and r["aa"] and r["ra"] and r["rcode"] == 0, "mx: header")
        check(r["qname"] == "ok.test" and raw[12:13] == b"\x02" and raw[13:15] == b"OK",
              "mx: question echoed with its case")
        check([a["data"] for a in r["an"]] == [(10, "mx1.ok.test"), (20, "mx2.ok.test")],
              "mx: two exchanges in zone order")
        check(raw[r["an"][0]["start"]:r["an"][0]["start"] + 2] == b"\xc0\x0c", "mx: owner compressed")
        check(r["an"][0]["ttl"] == 300, "mx: ttl")

        r = parse(q(port, "ok.test", "TXT")[1])
        check(r["an"] and r["an"][0]["data"] == ["v=spf1 ip4:192.0.2.0/24 -all", "part two; with space"],
              "txt: several strings")
        r = parse(q(port, "alias.test", "MX")[1])
        check([a["type"] for a in r["an"]] == [5, 15, 15] and r["an"][1]["name"] == "ok.test",
              "cname: chain followed")
        r = parse(q(port, "x.y.wild.test", "A")[1])
        check(r["rcode"] == 0 and r["an"] and r["an"][0]["data"] == "192.0.2.99"
              and r["an"][0]["name"] == "x.y.wild.test", "wildcard record")
        r = parse(q(port, "null.test", "MX")[1])
        check(r["an"] and r["an"][0]["data"] == (0, "."), "null mx")
        r = parse(q(port, "ok.test", "AAAA")[1])
        check(r["rcode"] == 0 and not r["an"], "nodata")
        r = parse(q(port, "ent.test", "MX")[1])
        check(r["rcode"] == 0 and not r["an"], "empty non-terminal is nodata")
        r = parse(q(port, "nx.test", "MX")[1])
        check(r["rcode"] == 3 and not r["an"], "nxdomain for unknown name")

        # EDNS: OPT copied back.
        r = parse(q(port, "ok.test", "MX", edns=4096)[1])
        check(len(r["ar"]) == 1 and r["ar"][0]["type"] == 41 and r["ar"][0]["name"] == ".", "edns: opt echoed")
        r = parse(q(port, "ok.test", "MX")[1])
        check(not r["ar"], "edns: no opt without one in the query")

        for name, rc in (("sf.test", 2), ("rf.test", 5), ("nxf.test", 3), ("empty.test", 0)):
            r = parse(q(port, name, "MX")[1])
            check(r["rcode"] == rc and not r["an"], "rcode fault %s -> %d" % (name, rc))

        # Truncate: TC over UDP, full answer over TCP.
        r = parse(q(port, "tc.test", "MX")[1])
        check(r["tc"] and not r["an"], "truncate: udp TC=1, no records")
        qid, msg = make_query("tc.test", "MX")
        r = parse(tcp_many(port, [msg])[0])
        check(r["id"] == qid and not r["tc"] and r["an"] and r["an"][0]["data"] == (10, "mx1.ok.test"),
              "truncate: tcp answer")

        # Several queries on one TCP connection, sent in one write.
        msgs = [make_query(n, "MX", qid=i) for i, n in enumerate(("ok.test", "nx.test", "sf.test"))]
        rs = [parse(x) for x in tcp_many(port, [m for _, m in msgs])]
        check([x["rcode"] for x in rs] == [0, 3, 2] and [x["id"] for x in rs] == [0, 1, 2],
              "tcp: pipelined queries")

        # Wrong ID, and never the right one.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        qid, msg = make_query("wid.test", "MX")
        raw = udp(port, msg, sock=s)
        check(raw is not None and parse(raw)["id"] != qid, "wrong-id: different id")
        s.settimeout(0.3)
        try:
            extra = s.recv(65535)
        except socket.timeout:
            extra = None
        check(extra is None, "wrong-id: no second answer")
        s.close()

        r = parse(q(port, "wq.test", "MX")[1])
        check(r["qname"] != "wq.test" and r["rcode"] == 0, "wrong-question: another name")

        raw = q(port, "mal.test", "MX")[1]
        try:
            parse(raw)
            check(False, "malformed: does not parse")
        except (ValueError, struct.error, IndexError):
            check(raw[:2] is not None and struct.unpack(">H", raw[6:8])[0] >= 1, "malformed: cut record")

        raw = q(port, "big.test", "MX")[1]
        r = parse(raw)
        check(len(raw) > 512 and not r["tc"], "oversize: >512 without TC")
        raw = q(port, "big.test", "MX", edns=1232)[1]
        check(len(raw) > 1232 and not parse(raw)["tc"], "oversize: > edns size without TC")

        raw = q(port, "loop.test", "MX")[1]
        try:
            parse(raw)
            check(False, "compression-loop: detected")
        except LoopError:
            check(True, "compression-loop: detected")

        r = parse(q(port, "frn.test", "MX")[1])
        check(r["an"] and all(a["name"] != "frn.test" for a in r["an"])
              and any(a["name"] == "frn.test" and a["type"] == 1 for a in r["ar"]),
              "foreign-records: nothing for the asked name, spoofed extra")

        rcs = [parse(q(port, "flap.test", "MX")[1])["rcode"] for _ in range(4)]
        check(rcs == [2, 2, 0, 0], "flap 2: servfail twice then answer (%s)" % rcs)

        # Delay, alone and concurrent; typed rule only delays the A query.
        t0 = time.monotonic()
        raw = q(port, "a.slow.test", "MX")[1]
        dt = time.monotonic() - t0
        check(raw is not None and 0.28 <= dt < 1.0, "delay 300: answered after %.3fs" % dt)
        t0 = time.monotonic()
        q(port, "ok.test", "MX")
        fast = time.monotonic() - t0
        t0 = time.monotonic()
        q(port, "ok.test", "A")
        slow = time.monotonic() - t0
        check(fast < 0.15 and slow >= 0.18, "typed rule: ok.test/A delayed, MX not")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(6):
            s.sendto(make_query("c%d.slow.test" % i, "MX")[1], ("127.0.0.1", port))
        s.settimeout(2)
        got = [s.recv(65535) for _ in range(6)]
        s.close()
        check(len(got) == 6, "delay: 6 concurrent answers")

        check(q(port, "drop.test", "MX", timeout=0.5)[1] is None, "drop: no answer")

        # Garbage must not kill it.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = random.Random(5)
        for n in (0, 1, 5, 11, 12, 13, 40, 300):
            s.sendto(bytes(rng.randrange(256) for _ in range(n)), ("127.0.0.1", port))
        s.sendto(b"\x12\x34\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00" + encode_name("a.test") + b"\0\1\0\1",
                 ("127.0.0.1", port))
        s.sendto(b"\x12\x35\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\0\1\0\1", ("127.0.0.1", port))
        s.sendto(b"\x12\x36\x00\x00\x00\x01\x00\x00\x00\x00\x00\x05" + encode_name("ok.test") + b"\0\1\0\1",
                 ("127.0.0.1", port))
        s.settimeout(0.3)
        formerr = set()
        try:
            while True:
                m = s.recv(65535)
                if len(m) >= 4 and m[3] & 0xF == 1:
                    formerr.add(struct.unpack(">H", m[:2])[0])
        except socket.timeout:
            pass
        s.close()
        check({0x1234, 0x1235, 0x1236} <= formerr, "garbage: FORMERR for bad counts/pointer/cut additional")
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"\x00\x05hello\x00\x00")
        r = parse(q(port, "ok.test", "MX")[1])
        check(r["rcode"] == 0 and len(r["an"]) == 2, "garbage: still answering")

        # SIGUSR1 snapshot.
        p.send_signal(signal.SIGUSR1)
        for _ in range(50):
            if os.path.exists(stats):
                break
            time.sleep(0.05)
        check(os.path.exists(stats), "sigusr1: stats written")
    finally:
        st = dns.stop()
    check(dns.rc == 0, "sigterm: exit 0")
    print(json.dumps({k: st[k] for k in ("queries", "udp", "tcp", "answered", "dropped",
                                         "max_in_1s", "max_in_100ms", "max_outstanding")}))
    check(st["tcp"] == 4 and st["tcp_connections"] == 3, "stats: tcp queries and connections")
    check(st["faults"]["drop"] == 1 and st["dropped"] == 1, "stats: one drop")
    check(st["faults"]["servfail"] == 2 and st["faults"]["truncate"] == 2, "stats: per fault")
    check(st["faults"]["delay"] == 8 and st["faults"]["flap"] == 4, "stats: delay and flap counts")
    check(st["qtypes"].get("MX", 0) > 20 and st["qtypes"].get("A") == 2, "stats: per qtype")
    check(st["max_outstanding"] >= 6, "stats: max outstanding %d >= 6" % st["max_outstanding"])
    check(st["bad_queries"] >= 3, "stats: bad queries counted")
    check(st["max_in_1s"] >= st["max_in_100ms"] >= 6, "stats: rate windows")
    check(sum(st["per_second"]) == st["queries"], "stats: histogram sums to queries")
    check(st["answered"] + st["dropped"] + st["lost"] + st["outstanding"] >= st["queries"] - st["bad_queries"],
          "stats: every query accounted for")
    with open(log) as f:
        lines = f.read().splitlines()
    check(any(ln.split()[4:7] == ["drop.test", "MX", "drop"] for ln in lines), "log: drop line")
    check(len(lines) == st["queries"], "log: one line per query")


def escaped_name_tests(tmp):
    """\\DDD in zone names: labels with a space, '%' or '/' (SPF macros make
    such names)."""
    zone = ("odd\\032name%.test A 300 192.0.2.12\n"
            "esc.test CNAME 300 odd\\032name%.test\n"
            "slash\\047x.test A 300 192.0.2.13\n")  # "/" would make a rule
    dns, _ = start(tmp, zone)
    port = dns.port
    try:
        r = parse(q(port, "odd name%.test", "A")[1])
        check(r["rcode"] == 0 and r["an"] and r["an"][0]["data"] == "192.0.2.12",
              "escaped name: \\032 is a space")
        r = parse(q(port, "ODD name%.test", "A")[1])
        check(r["rcode"] == 0 and len(r["an"]) == 1, "escaped name: case-insensitive")
        r = parse(q(port, "esc.test", "A")[1])
        check([a["type"] for a in r["an"]] == [5, 1] and r["an"][0]["data"] == "odd name%.test",
              "escaped name: cname target on the wire")
        r = parse(q(port, "odd\\032name%.test", "A")[1])
        check(r["rcode"] == 3, "escaped name: the backslash text is another name")
        r = parse(q(port, "slash/x.test", "A")[1])
        check(r["rcode"] == 0 and len(r["an"]) == 1, "escaped name: \\047 is a slash")
    finally:
        dns.stop()


def die_and_stop_tests(tmp):
    dns, _ = start(tmp, "ok.test MX 300 10 mx.ok.test\n* die-after 3\n", "--stop-after", "5")
    port = dns.port
    answers = [q(port, "ok.test", "MX", timeout=0.3)[1] is not None for _ in range(5)]
    check(answers == [True, True, True, False, False], "die-after 3: %s" % answers)
    rc = dns.proc.wait(timeout=5)
    check(rc == 0, "stop-after 5: exited by itself with 0")
    st = dns.stop()
    check(st["queries"] == 5 and st["faults"]["died"] == 2, "stop-after: stats written")


def loss_tests(tmp):
    patterns = []
    for _ in range(2):
        dns, log = start(tmp, "ok.test MX 300 10 mx.ok.test\n", "--loss", "50", "--seed", "7")
        port = dns.port
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(40):
            s.sendto(make_query("ok.test", "MX", qid=i)[1], ("127.0.0.1", port))
        time.sleep(0.3)
        dns.stop()
        s.close()
        with open(log) as f:
            patterns.append([ln.split()[6] for ln in f.read().splitlines()])
    lost = patterns[0].count("loss")
    check(patterns[0] == patterns[1] and 5 < lost < 35, "loss 50 seeded: deterministic (%d/40 lost)" % lost)


def refuse_tests(tmp):
    zone = os.path.join(tmp, "zone")
    for addr in ("0.0.0.0:0", "192.0.2.1:5353", "[::]:0", "[2001:db8::1]:0"):
        rc = subprocess.run([mxtest.FAULTDNS, "--listen", addr, "--zone", zone], capture_output=True).returncode
        check(rc == 2, "refuses to listen on %s" % addr)


def main():
    mxtest.parse_args(need=("faultdns",), unittest_args=False)
    with tempfile.TemporaryDirectory() as tmp:
        main_tests(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        escaped_name_tests(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        die_and_stop_tests(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        loss_tests(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        refuse_tests(tmp)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""labdns.py - a tiny stdlib DNS client for the lab (UDP, TCP on truncation).

  labdns.py query ADDR PORT NAME TYPE [--norec]   print the answer as JSON
  labdns.py wait ADDR PORT NAME TYPE SECONDS [--norec]
                                   poll until the server answers NOERROR

As a module: query(addr, port, name, qtype, rd=True, timeout=2.0) -> dict
with keys rcode, aa, tc, answer (list of (name, type, ttl, rdata)).
"""
import json
import random
import socket
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode_name(name):
    out = b""
    name = name.rstrip(".")
    if name:
        for label in name.split("."):
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_query(name, qtype, rd=True, qid=None):
    qid = random.getrandbits(16) if qid is None else qid
    flags = 0x0100 if rd else 0
    hdr = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1)
    q = encode_name(name) + struct.pack("!HH", TYPES[qtype], 1)
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return qid, hdr + q + opt


def read_name(msg, off):
    labels = []
    jumped = False
    end = off
    for _ in range(128):
        ln = msg[off]
        if ln & 0xC0 == 0xC0:
            ptr = struct.unpack("!H", msg[off:off + 2])[0] & 0x3FFF
            if not jumped:
                end = off + 2
            jumped = True
            off = ptr
            continue
        off += 1
        if ln == 0:
            break
        labels.append(msg[off:off + ln].decode("ascii", "backslashreplace"))
        off += ln
    if not jumped:
        end = off
    return ".".join(labels).lower(), end


def parse_rdata(msg, off, rtype, rdlen):
    rd = msg[off:off + rdlen]
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, rd)
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if rtype in (2, 5):
        return read_name(msg, off)[0]
    if rtype == 15:
        pref = struct.unpack("!H", rd[:2])[0]
        return (pref, read_name(msg, off + 2)[0])
    if rtype == 16:
        parts, i = [], 0
        while i < len(rd):
            ln = rd[i]
            parts.append(rd[i + 1:i + 1 + ln].decode("utf-8", "backslashreplace"))
            i += 1 + ln
        return "".join(parts)
    if rtype == 6:
        mname, o = read_name(msg, off)
        rname, o = read_name(msg, o)
        return (mname, rname) + struct.unpack("!IIIII", msg[o:o + 20])
    return rd.hex()


def parse(msg):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    sections = []
    for count in (an, ns):
        rrs = []
        for _ in range(count):
            name, off = read_name(msg, off)
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            rrs.append((name, TYPE_NAMES.get(rtype, str(rtype)), ttl,
                        parse_rdata(msg, off, rtype, rdlen)))
            off += rdlen
        sections.append(rrs)
    return {"id": qid, "rcode": RCODES.get(flags & 0xF, str(flags & 0xF)),
            "aa": bool(flags & 0x0400), "tc": bool(flags & 0x0200),
            "answer": sections[0], "authority": sections[1]}


def query_tcp(addr, port, pkt, timeout):
    with socket.create_connection((addr, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(pkt)) + pkt)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                raise OSError("TCP connection closed")
            buf += chunk
        return buf[2:2 + struct.unpack("!H", buf[:2])[0]]


def query(addr, port, name, qtype, rd=True, timeout=2.0, tries=2):
    qid, pkt = build_query(name, qtype, rd)
    last = None
    for _ in range(tries):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(timeout)
            s.sendto(pkt, (addr, port))
            deadline = time.monotonic() + timeout
            while True:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                data, _ = s.recvfrom(65535)
                if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                    break
            r = parse(data)
            if r["tc"]:
                r = parse(query_tcp(addr, port, pkt, timeout))
            return r
        except (socket.timeout, ConnectionRefusedError, OSError) as e:
            last = e
        finally:
            s.close()
    raise TimeoutError("no answer from %s:%s for %s %s (%s)" % (addr, port, name, qtype, last))


def query_many(addr, port, items, rd=True, window=256, timeout=2.0, tries=3):
    """Resolve many (name, qtype) pairs over one UDP socket, at most `window`
    in flight.  Returns {(name, qtype): parsed answer or None (no answer)}."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    except OSError:
        pass
    todo = list(items)
    todo.reverse()
    inflight = {}          # qid -> [item, pkt, sent_at, tries]
    results = {}
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    used = set()
    while todo or inflight:
        while todo and len(inflight) < window:
            item = todo.pop()
            qid = random.getrandbits(16)
            while qid in inflight:
                qid = random.getrandbits(16)
            _, pkt = build_query(item[0], item[1], rd, qid)
            s.sendto(pkt, (addr, port))
            inflight[qid] = [item, pkt, time.monotonic(), 1]
        for _ in sel.select(0.05):
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                if len(data) < 12:
                    continue
                qid = struct.unpack("!H", data[:2])[0]
                ent = inflight.get(qid)
                if ent is None:
                    continue
                r = parse(data)
                if r["tc"]:
                    try:
                        r = parse(query_tcp(addr, port, ent[1], timeout))
                    except OSError:
                        r = None
                results[ent[0]] = r
                del inflight[qid]
        now = time.monotonic()
        for qid, ent in list(inflight.items()):
            if now - ent[2] > timeout:
                if ent[3] >= tries:
                    results[ent[0]] = None
                    del inflight[qid]
                else:
                    ent[2], ent[3] = now, ent[3] + 1
                    s.sendto(ent[1], (addr, port))
    s.close()
    return results


def main(argv):
    rd = "--norec" not in argv
    argv = [a for a in argv if a != "--norec"]
    if len(argv) >= 5 and argv[0] == "query":
        r = query(argv[1], int(argv[2]), argv[3], argv[4], rd=rd)
        print(json.dumps(r))
        return 0 if r["rcode"] in ("NOERROR", "NXDOMAIN") else 1
    if len(argv) >= 6 and argv[0] == "wait":
        deadline = time.monotonic() + float(argv[5])
        while time.monotonic() < deadline:
            try:
                r = query(argv[1], int(argv[2]), argv[3], argv[4], rd=rd, timeout=0.5, tries=1)
                if r["rcode"] == "NOERROR":
                    return 0
            except TimeoutError:
                pass
            time.sleep(0.2)
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""dnstap_log.py - count the queries an NSD instance receives (stdlib only).

  dnstap_log.py SOCKET OUTFILE [--pidfile F]

Listens on the unix socket SOCKET as a Frame Streams receiver (the
bidirectional protocol NSD's dnstap collector speaks: READY -> ACCEPT ->
START -> data frames -> STOP -> FINISH), decodes each Dnstap protobuf
message and appends one JSON line per logged message to OUTFILE:

  {"id": IDENTITY, "kind": "auth_query", "t": SECONDS.NANOS, "proto": "udp",
   "src": CLIENT, "dst": SERVER, "qid": ID, "rd": false, "qname": NAME,
   "qtype": TYPE}

t is the server's own receive time (query_time). Several NSD instances
may share one socket (each connection is served by its own thread) and
are told apart by their dnstap-identity. Runs until SIGTERM.
"""
import json
import os
import signal
import socket
import struct
import sys
import threading

FSTRM_ACCEPT, FSTRM_START, FSTRM_STOP, FSTRM_READY, FSTRM_FINISH = 1, 2, 3, 4, 5
FIELD_CONTENT_TYPE = 1
CONTENT_TYPE = b"protobuf:dnstap.Dnstap"
KINDS = {1: "auth_query", 2: "auth_response", 3: "resolver_query", 4: "resolver_response",
         5: "client_query", 6: "client_response"}
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA"}

out_lock = threading.Lock()


def varint(buf, off):
    val = shift = 0
    while True:
        b = buf[off]
        off += 1
        val |= (b & 0x7F) << shift
        if not b & 0x80:
            return val, off
        shift += 7


def fields(buf):
    """Yields (field number, value) of a protobuf message: ints for varint
    and fixed fields, bytes for length-delimited ones."""
    off = 0
    while off < len(buf):
        key, off = varint(buf, off)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, off = varint(buf, off)
        elif wt == 1:
            val = struct.unpack_from("<Q", buf, off)[0]
            off += 8
        elif wt == 2:
            ln, off = varint(buf, off)
            val = bytes(buf[off:off + ln])
            off += ln
        elif wt == 5:
            val = struct.unpack_from("<I", buf, off)[0]
            off += 4
        else:
            raise ValueError("protobuf wire type %d" % wt)
        yield num, val


def qname_of(msg):
    labels, off = [], 12
    while off < len(msg) and msg[off]:
        ln = msg[off]
        labels.append(msg[off + 1:off + 1 + ln].decode("ascii", "backslashreplace").lower())
        off += 1 + ln
    qtype = struct.unpack_from("!H", msg, off + 1)[0] if off + 3 <= len(msg) else 0
    return ".".join(labels), qtype


def addr(raw):
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return raw.hex()


def decode(frame):
    top = dict(fields(frame))
    m = top.get(14)
    if m is None:
        return None
    msg = dict(fields(m))
    rec = {"id": top.get(1, b"").decode("utf-8", "replace"),
           "kind": KINDS.get(msg.get(1), str(msg.get(1))),
           "proto": {1: "udp", 2: "tcp"}.get(msg.get(3), str(msg.get(3))),
           "src": addr(msg.get(4, b"")), "dst": addr(msg.get(5, b""))}
    if 8 in msg:
        rec["t"] = msg[8] + msg.get(9, 0) / 1e9
    wire = msg.get(10) or msg.get(14)
    if wire and len(wire) >= 12:
        qid, flags = struct.unpack_from("!HH", wire)
        rec["qid"] = qid
        rec["rd"] = bool(flags & 0x0100)
        name, qtype = qname_of(wire)
        rec["qname"] = name
        rec["qtype"] = TYPES.get(qtype, str(qtype))
    return rec


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def control(ctype, content_type=True):
    body = struct.pack("!I", ctype)
    if content_type:
        body += struct.pack("!II", FIELD_CONTENT_TYPE, len(CONTENT_TYPE)) + CONTENT_TYPE
    return struct.pack("!II", 0, len(body)) + body


def serve(conn, out):
    try:
        while True:
            ln = struct.unpack("!I", read_exact(conn, 4))[0]
            if ln == 0:  # control frame
                clen = struct.unpack("!I", read_exact(conn, 4))[0]
                body = read_exact(conn, clen)
                ctype = struct.unpack_from("!I", body)[0]
                if ctype == FSTRM_READY:
                    conn.sendall(control(FSTRM_ACCEPT))
                elif ctype == FSTRM_STOP:
                    conn.sendall(control(FSTRM_FINISH, False))
                    return
                continue
            rec = decode(read_exact(conn, ln))
            if rec is not None:
                line = json.dumps(rec, sort_keys=True) + "\n"
                with out_lock:
                    out.write(line)
                    out.flush()
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    path, outpath = argv[0], argv[1]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    os.chmod(path, 0o777)
    out = open(outpath, "a", buffering=1)
    if "--pidfile" in argv:
        with open(argv[argv.index("--pidfile") + 1], "w") as f:
            f.write("%d\n" % os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, out), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""conslab.py - the authoritative-consistency lab (issue 15) on loopback.

  conslab.py up DIR [--bulk N]     generate, add addresses, start everything
  conslab.py down DIR              stop everything, remove the addresses
  conslab.py status DIR
  conslab.py truth                 print the ground truth table (JSON)

Several NSD instances on 127.0.40.0/24, all on port 53 (a recursive
resolver iterating to them uses port 53), serving different versions of
the same zones, plus a parent (the lab root "." and "test.") that
delegates each domain to the servers of its case, and Unbound in front
for the NS and address look-ups:

  127.0.40.1   parent NSD: ".", "test." (delegations, NS host addresses)
  127.0.40.2   Unbound (recursive, root stub at 127.0.40.1); it sends its
               own queries from 127.0.40.3 (outgoing-interface), so that
               the servers' logs tell them from the module's
  127.0.40.11  ns1  NSD, the current version of every zone it serves
  127.0.40.12  ns2  NSD, current
  127.0.40.13  ns3  NSD, a stale secondary (old MX set, older serial, ...)
  127.0.40.14  ns4  NSD, an older serial for some zones
  127.0.40.15  ns5  NSD serving none of the domains: REFUSED
  127.0.40.16  ns6  a small responder (in this file) answering with the zones'
               data but without AA, as a caching resolver named in a
               delegation does. (An NSD serving only the parent would give
               referrals without AA; but a resolver asking that server for
               the NS set then answers NODATA or the NS set depending on
               which server it tried first, which no exact test can use.)
  127.0.40.17  ns7  nothing listens (ICMP port unreachable)
  127.0.40.18  ns8  a listener that reads and never answers (counts packets)
  ns9.nsprov.test   does not exist; ns10.nsprov.test has no address (TXT only)
  ns-multi.nsprov.test  two addresses: 127.0.40.12 and 127.0.40.14
  ns-private.nsprov.test  127.0.40.99: outside the allow list the tests use
               (127.0.40.0/27), so never asked; nothing listens there

Counting queries at the servers: every NSD instance logs each query it
receives through dnstap (NSD 4.6 in Debian is built with --enable-dnstap)
to one Frame Streams socket served by dnstap_log.py, which writes
DIR/dnstap.ndjson (server identity, time of receipt, source, protocol,
RD bit, qname, qtype). nsd-control (a unix control socket per instance,
DIR/nsN/nsd.ctl) gives each server's own total as a cross-check: `up` waits
until every instance's queries reach the log, then zeroes NSD's counters
and notes the time (lab.json "counters_reset"). The
silent listener on ns8 logs DIR/ns8.log. NSD rate limiting is off
(rrl-ratelimit: 0).

DIR/lab.json describes the lab; DIR/truth.json holds the ground truth of
every domain (also `conslab.py truth`). Needs root (ip addr, port 53).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NET = "127.0.40."
PORT = 53
PARENT = NET + "1"
UNBOUND = NET + "2"
UNBOUND_OUT = NET + "3"
ALLOW = NET + "0/27"

S_NEW, S_OLD = 2024060101, 2024010101

# NS host name -> addresses
NS_ADDRS = {
    "ns1.nsprov.test": [NET + "11"],
    "ns2.nsprov.test": [NET + "12"],
    "ns3.nsprov.test": [NET + "13"],
    "ns4.nsprov.test": [NET + "14"],
    "ns5.nsprov.test": [NET + "15"],
    "ns6.nsprov.test": [NET + "16"],
    "ns7.nsprov.test": [NET + "17"],
    "ns8.nsprov.test": [NET + "18"],
    "ns-multi.nsprov.test": [NET + "12", NET + "14"],
    "ns-private.nsprov.test": [NET + "99"],
}
NO_ADDRESS = {"ns9.nsprov.test": "nxdomain", "ns10.nsprov.test": "nodata"}

# the NSD instances serving domains: name -> address
AUTH = {"ns1": NET + "11", "ns2": NET + "12", "ns3": NET + "13", "ns4": NET + "14"}
REFUSER = ("ns5", NET + "15")
NOAA = NET + "16"
DEAD = NET + "17"
SILENT = NET + "18"

# what each kind of address says (judgement state)
ADDR_KIND = {NET + "15": "refused", NET + "16": "not_auth", NET + "17": "timeout",
             NET + "18": "timeout", NET + "99": "not_allowed"}


def mx_cur(d):
    return [(10, "mx1." + d), (20, "mx2." + d)]


MX_OLD = [(10, "mail.oldhost.test")]


def version(kind, d):
    """(serial, MX list in zone-file order) of a zone version."""
    if kind == "cur":
        return S_NEW, mx_cur(d)
    if kind == "old":
        return S_OLD, MX_OLD
    if kind == "oldserial":
        return S_OLD, mx_cur(d)
    if kind == "reorder":
        return S_NEW, list(reversed(mx_cur(d)))
    if kind == "pref":
        return S_NEW, [(20, "mx1." + d), (10, "mx2." + d)]
    if kind == "nomx":
        return S_NEW, []
    if kind == "big":
        return S_NEW, [(10 + i, "mx-with-a-rather-long-label-number-%02d.%s" % (i, d))
                       for i in range(60)]
    raise ValueError(kind)


# domain -> (NS names, {instance: version}, findings, judged)
# instances not listed serve the domain in version "cur" when they are among
# its NS addresses.
CASES = {
    "ok.test": (["ns1", "ns2"], {}, []),
    "multi-ok.test": (["ns1", "ns-multi"], {}, []),
    "shared.test": (["ns2", "ns-multi"], {}, []),
    "stale.test": (["ns1", "ns2", "ns3"], {"ns3": "old"},
                   ["ns_mx_inconsistent", "ns_serial_mismatch"]),
    "oldserial.test": (["ns1", "ns4"], {"ns4": "oldserial"}, ["ns_serial_mismatch"]),
    "reorder.test": (["ns1", "ns3"], {"ns3": "reorder"}, []),
    "pref.test": (["ns1", "ns3"], {"ns3": "pref"}, ["ns_mx_inconsistent"]),
    "nomx.test": (["ns1", "ns3"], {"ns1": "nomx"}, ["ns_mx_inconsistent"]),
    "refused.test": (["ns1", "ns5"], {}, ["ns_lame"]),
    "noaa.test": (["ns1", "ns6"], {}, ["ns_lame"]),
    "deadport.test": (["ns1", "ns7"], {}, ["ns_lame"]),
    "silent.test": (["ns1", "ns8"], {}, ["ns_lame"]),
    "noaddr.test": (["ns1", "ns9"], {}, ["ns_lame"]),
    "nodata.test": (["ns1", "ns10"], {}, ["ns_lame"]),
    "private.test": (["ns1", "ns-private"], {}, ["ns_lame"]),
    "mixed.test": (["ns1", "ns3", "ns5", "ns8"], {"ns3": "old"},
                   ["ns_lame", "ns_mx_inconsistent", "ns_serial_mismatch"]),
    "bigmx.test": (["ns1", "ns2"], {"ns1": "big", "ns2": "big"}, []),
    # every server lame: the resolver cannot even get the NS set
    "alllame.test": (["ns5", "ns7"], {}, []),
}
NOT_JUDGED = {"alllame.test"}


def fq(ns):
    return ns + ".nsprov.test"


def bulk_names(n, prefix="bulk"):
    return ["%s%03d.test" % (prefix, i) for i in range(n)]


def all_cases(bulk):
    cases = dict(CASES)
    for d in bulk_names(bulk):
        cases[d] = (["ns1", "ns2", "ns4"], {}, [])
    for d in bulk_names(bulk, "rate"):
        cases[d] = (["ns1", "ns2", "ns4"], {}, [])
    return cases


def instance_of(addr):
    for k, v in AUTH.items():
        if v == addr:
            return k
    return None


# ---- ground truth ----------------------------------------------------------

def addr_key(a):
    return tuple(int(x) for x in a.split("."))


def truth(bulk=0):
    """Per domain: judged, findings and the three columns, computed here
    independently of the C formatter."""
    out = {}
    for d, (nss, vers, findings) in sorted(all_cases(bulk).items()):
        if d in NOT_JUDGED:
            out[d] = {"judged": False, "findings": [], "ns_servers": "", "ns_mx_sets": "",
                      "ns_serials": ""}
            continue
        names = sorted(fq(n) for n in nss)
        servers, seen = [], []
        for name in names:
            if name in NO_ADDRESS:
                servers.append(name + "=no_address")
                continue
            parts = []
            for a in sorted(NS_ADDRS[name], key=addr_key):
                inst = instance_of(a)
                parts.append("%s %s" % (a, "auth" if inst else ADDR_KIND[a]))
                if a not in [s[0] for s in seen]:
                    seen.append((a, inst))
            servers.append(name + "=" + ",".join(parts))
        sets, serials = [], []
        for a, inst in seen:
            if not inst:
                continue
            serial, mx = version(vers.get(inst, "cur"), d)
            canon = sorted(set(mx))
            text = "{%s}" % " ".join("%d %s" % p for p in canon) if canon else "none"
            for g in sets:
                if g[0] == text:
                    g[1].append(a)
                    break
            else:
                sets.append([text, [a]])
            for g in serials:
                if g[0] == serial:
                    g[1].append(a)
                    break
            else:
                serials.append([serial, [a]])
        out[d] = {"judged": True, "findings": findings,
                  "ns_servers": ";".join(servers),
                  "ns_mx_sets": ";".join("%s@%s" % (t, ",".join(m)) for t, m in sets),
                  "ns_serials": ";".join("%d@%s" % (s, ",".join(m)) for s, m in serials)}
        # the table's findings must follow from the data above
        lame = any(n in ("ns5", "ns6", "ns7", "ns8", "ns9", "ns10", "ns-private") for n in nss)
        want = (["ns_lame"] if lame else []) + \
            (["ns_mx_inconsistent"] if len(sets) > 1 else []) + \
            (["ns_serial_mismatch"] if len(serials) > 1 else [])
        assert want == findings, (d, want, findings)
    return out


# ---- zone files --------------------------------------------------------------

SOA_TAIL = "3600 600 86400 300"


def child_zone(d, kind, nss):
    serial, mx = version(kind, d)
    lines = ["$TTL 300",
             "%s. IN SOA ns1.nsprov.test. hostmaster.%s. %d %s" % (d, d, serial, SOA_TAIL)]
    for n in nss:
        lines.append("%s. IN NS %s." % (d, fq(n)))
    ttl = 600 if kind == "reorder" else 300
    for pref, ex in mx:
        lines.append("%s. %d IN MX %d %s." % (d, ttl, pref, ex))
    return "\n".join(lines) + "\n"


def parent_zones(cases):
    root = ["$TTL 300", ". IN SOA a.root-lab.test. hostmaster.test. 1 " + SOA_TAIL,
            ". IN NS a.root-lab.test.", "test. IN NS a.root-lab.test.",
            "a.root-lab.test. IN A " + PARENT]
    test = ["$TTL 300", "test. IN SOA a.root-lab.test. hostmaster.test. 1 " + SOA_TAIL,
            "test. IN NS a.root-lab.test.", "a.root-lab.test. IN A " + PARENT,
            "ns10.nsprov.test. IN TXT \"no address here\""]
    for name, addrs in sorted(NS_ADDRS.items()):
        for a in addrs:
            test.append("%s. IN A %s" % (name, a))
    for d, (nss, _, _) in sorted(cases.items()):
        for n in nss:
            test.append("%s. IN NS %s." % (d, fq(n)))
    return "\n".join(root) + "\n", "\n".join(test) + "\n"


def nsd_conf(dirpath, name, addr, zones, dnstap_sock):
    c = ["server:",
         "  ip-address: %s@%d" % (addr, PORT),
         "  port: %d" % PORT,
         "  do-ip6: no",
         '  username: ""',
         '  chroot: ""',
         '  database: ""',
         '  zonelistfile: "%s/zone.list"' % dirpath,
         '  xfrdfile: "%s/xfrd.state"' % dirpath,
         '  xfrdir: "%s"' % dirpath,
         '  pidfile: "%s/nsd.pid"' % dirpath,
         '  logfile: "%s/nsd.log"' % dirpath,
         "  verbosity: 1",
         "  server-count: 1",
         "  hide-version: yes",
         "  minimal-responses: yes",
         "  round-robin: no",
         "  refuse-any: yes",
         "  zonefiles-check: no",
         "  zonefiles-write: 0",
         "  rrl-ratelimit: 0",
         "  rrl-whitelist-ratelimit: 0",
         "dnstap:",
         "  dnstap-enable: yes",
         '  dnstap-socket-path: "%s"' % dnstap_sock,
         "  dnstap-send-identity: yes",
         '  dnstap-identity: "%s"' % name,
         "  dnstap-log-auth-query-messages: yes",
         "  dnstap-log-auth-response-messages: no",
         "remote-control:",
         "  control-enable: yes",
         '  control-interface: "%s/nsd.ctl"' % dirpath]
    for origin, path in zones:
        c += ["zone:", '  name: "%s"' % origin, '  zonefile: "%s"' % path]
    return "\n".join(c) + "\n"


def unbound_conf(d):
    return "\n".join([
        "server:",
        "  interface: %s@%d" % (UNBOUND, PORT),
        "  outgoing-interface: %s" % UNBOUND_OUT,
        "  port: %d" % PORT,
        "  do-ip6: no",
        "  access-control: 127.0.0.0/8 allow",
        '  username: ""',
        '  chroot: ""',
        '  directory: "%s/unbound"' % d,
        '  pidfile: "%s/unbound.pid"' % d,
        '  logfile: "%s/unbound.log"' % d,
        "  use-syslog: no",
        "  verbosity: 1",
        "  do-daemonize: yes",
        "  num-threads: 1",
        '  module-config: "iterator"',
        "  do-not-query-localhost: no",
        "  qname-minimisation: no",
        "  minimal-responses: yes",
        "  ratelimit: 0",
        "  ip-ratelimit: 0",
        "  discard-timeout: 0",
        "  wait-limit: 0",
        "  infra-cache-max-rtt: 500",
        "  infra-keep-probing: no",
        '  target-fetch-policy: "0 0 0 0 0"',
        "  harden-referral-path: no",
        "  edns-buffer-size: 1232",
        '  local-zone: "test." nodefault',
        "stub-zone:",
        '  name: "."',
        "  stub-addr: %s@%d" % (PARENT, PORT),
        "  stub-prime: no",
        "remote-control:",
        "  control-enable: no",
    ]) + "\n"


# ---- processes ----------------------------------------------------------------

def alive(pidfile):
    try:
        pid = int(open(pidfile).read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_pid(pidfile, name):
    pid = alive(pidfile)
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        for _ in range(100):
            if not alive(pidfile):
                break
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        else:
            sys.stderr.write("conslab: %s (%d) did not stop, SIGKILL\n" % (name, pid))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    try:
        os.unlink(pidfile)
    except OSError:
        pass


def lab_addresses():
    return [PARENT, UNBOUND, UNBOUND_OUT] + sorted(set(
        a for addrs in NS_ADDRS.values() for a in addrs))


def ip_add(a):
    have = subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True,
                          text=True).stdout
    if " %s/32 " % a not in have:
        subprocess.run(["ip", "addr", "add", a + "/32", "dev", "lo"], check=True)


def ip_del(a):
    subprocess.run(["ip", "addr", "del", a + "/32", "dev", "lo"], capture_output=True)


def wait_answer(addr, name, qtype, secs, rd=False):
    sys.path.insert(0, HERE)
    import labdns
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            r = labdns.query(addr, PORT, name, qtype, rd=rd, timeout=0.5, tries=1)
            if r["rcode"] in ("NOERROR", "REFUSED"):
                return True
        except (TimeoutError, OSError):
            pass
        time.sleep(0.2)
    return False


def spawn(argv, log):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def silent_listener(addr, port, logpath, pidfile):
    """Reads UDP and TCP at addr:port and never answers; one log line per packet."""
    with open(pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, port))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(8)
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(u, selectors.EVENT_READ)
    sel.register(t, selectors.EVENT_READ)
    log = open(logpath, "a", buffering=1)
    conns = []
    while True:
        for key, _ in sel.select():
            if key.fileobj is u:
                data, src = u.recvfrom(65535)
                log.write(json.dumps({"t": time.time(), "proto": "udp", "src": src[0],
                                      "len": len(data)}) + "\n")
            elif key.fileobj is t:
                c, src = t.accept()
                log.write(json.dumps({"t": time.time(), "proto": "tcp", "src": src[0]}) + "\n")
                conns.append(c)  # held open, never answered


def noaa_responder(addr, port, logpath, pidfile, bulk):
    """Answers the lab's data for the domains that name ns6 with RA and
    without AA (a cache, not an authority); REFUSED for anything else."""
    import struct
    sys.path.insert(0, HERE)
    import labdns
    with open(pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    data = {}
    for d, (nss, vers, _) in all_cases(bulk).items():
        if "ns6" not in nss:
            continue
        serial, mx = version(vers.get("ns6", "cur"), d)
        data[d] = {2: [labdns.encode_name(fq(n)) for n in nss],
                   6: [labdns.encode_name("ns1.nsprov.test") + labdns.encode_name("h." + d) +
                       struct.pack("!IIIII", serial, 3600, 600, 86400, 300)],
                   15: [struct.pack("!H", p) + labdns.encode_name(x) for p, x in mx]}
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, port))
    log = open(logpath, "a", buffering=1)
    while True:
        q, src = u.recvfrom(65535)
        if len(q) < 17:
            continue
        name, off = labdns.read_name(q, 12)
        qtype = struct.unpack_from("!H", q, off)[0]
        log.write(json.dumps({"t": time.time(), "src": src[0], "qname": name,
                              "qtype": qtype, "rd": bool(q[2] & 1)}) + "\n")
        qend = off + 4
        flags = 0x8000 | 0x0080 | (q[2] & 1) << 8  # QR, RA, RD copied; no AA
        recs = []
        if name in data:
            recs = data[name].get(qtype, [])
        else:
            flags |= 5  # REFUSED
        hdr = q[:2] + struct.pack("!HHHHH", flags, 1, len(recs), 0, 0)
        body = q[12:qend]
        for rd in recs:
            body += struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(rd)) + rd
        u.sendto(hdr + body, src)


def do_up(d, bulk):
    if os.geteuid() != 0:
        sys.stderr.write("conslab: needs root (ip addr, port 53)\n")
        return 3
    for tool in ("nsd", "unbound", "nsd-control", "ip"):
        if not shutil.which(tool):
            sys.stderr.write("conslab: %s not installed\n" % tool)
            return 3
    do_down(d, quiet=True)
    os.makedirs(d, exist_ok=True)
    cases = all_cases(bulk)
    sock = os.path.join(d, "dnstap.sock")
    for f in ("dnstap.ndjson", "ns8.log", "ns6.log"):
        open(os.path.join(d, f), "w").close()
    # zones
    root, test = parent_zones(cases)
    pdir = os.path.join(d, "parent")
    os.makedirs(pdir, exist_ok=True)
    open(os.path.join(pdir, "root.zone"), "w").write(root)
    open(os.path.join(pdir, "test.zone"), "w").write(test)
    confs = [("parent", PARENT, pdir, [(".", pdir + "/root.zone"), ("test.", pdir + "/test.zone")])]
    for inst, addr in sorted(AUTH.items()):
        idir = os.path.join(d, inst)
        os.makedirs(idir, exist_ok=True)
        zones = []
        for dom, (nss, vers, _) in sorted(cases.items()):
            served = {n for n in nss if n in AUTH}
            served |= {i for n in nss if n == "ns-multi" for i in ("ns2", "ns4")}
            if inst not in served:
                continue
            path = os.path.join(idir, dom + ".zone")
            open(path, "w").write(child_zone(dom, vers.get(inst, "cur"), nss))
            zones.append((dom, path))
        confs.append((inst, addr, idir, zones))
    # ns5 serves an unrelated zone only; ns6 a copy of "test."
    n5 = os.path.join(d, "ns5")
    os.makedirs(n5, exist_ok=True)
    open(n5 + "/unrelated.zone", "w").write(
        "$TTL 300\nunrelated.example. IN SOA ns5.nsprov.test. h.unrelated.example. 1 %s\n"
        "unrelated.example. IN NS ns5.nsprov.test.\n" % SOA_TAIL)
    confs.append(("ns5", REFUSER[1], n5, [("unrelated.example.", n5 + "/unrelated.zone")]))
    for a in lab_addresses():
        ip_add(a)
    # the query log first: NSD's dnstap collector connects to it
    spawn([sys.executable, os.path.join(HERE, "dnstap_log.py"), sock,
           os.path.join(d, "dnstap.ndjson"), "--pidfile", os.path.join(d, "dnstap.pid")],
          os.path.join(d, "dnstap.stderr"))
    for _ in range(100):
        if alive(os.path.join(d, "dnstap.pid")):
            break
        time.sleep(0.1)
    spawn([sys.executable, os.path.abspath(__file__), "silent", SILENT, str(PORT),
           os.path.join(d, "ns8.log"), os.path.join(d, "ns8.pid")], os.path.join(d, "ns8.stderr"))
    spawn([sys.executable, os.path.abspath(__file__), "noaa", NOAA, str(PORT),
           os.path.join(d, "ns6.log"), os.path.join(d, "ns6.pid"), str(bulk)],
          os.path.join(d, "ns6.stderr"))
    for name, addr, cdir, zones in confs:
        conf = os.path.join(cdir, "nsd.conf")
        open(conf, "w").write(nsd_conf(cdir, name, addr, zones, sock))
        r = subprocess.run(["nsd-checkconf", conf], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write("conslab: nsd-checkconf %s: %s\n" % (conf, r.stderr))
            return 1
        r = subprocess.run(["nsd", "-c", conf], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write("conslab: nsd %s failed: %s\n" % (name, r.stderr))
            return 1
    os.makedirs(os.path.join(d, "unbound"), exist_ok=True)
    uconf = os.path.join(d, "unbound", "unbound.conf")
    open(uconf, "w").write(unbound_conf(d))
    r = subprocess.run(["unbound-checkconf", uconf], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("conslab: unbound-checkconf: %s %s\n" % (r.stdout, r.stderr))
        return 1
    # every NSD answers (REFUSED counts for ns5)
    for name, addr, cdir, zones in confs:
        probe = zones[0][0] if zones else "test."
        if not wait_answer(addr, probe, "SOA", 60):
            sys.stderr.write("conslab: nsd %s does not answer on %s\n" % (name, addr))
            return 1
    # every instance's dnstap collector is connected (it retries every few
    # seconds when it started first): probe until each one's query is logged,
    # then zero NSD's counters, so that they and the log count the same
    tap = os.path.join(d, "dnstap.ndjson")
    deadline = time.monotonic() + 30
    for name, addr, cdir, zones in confs:
        probe = zones[0][0] if zones else "test."
        while True:
            wait_answer(addr, probe, "SOA", 2)
            time.sleep(0.3)
            if any(('"id": "%s"' % name) in line for line in open(tap)):
                break
            if time.monotonic() > deadline:
                sys.stderr.write("conslab: nsd %s does not log to dnstap\n" % name)
                return 1
    for name, addr, cdir, zones in confs:
        subprocess.run(["nsd-control", "-c", os.path.join(cdir, "nsd.conf"), "stats"],
                       capture_output=True)
    counters_reset = time.time()
    r = subprocess.run(["unbound", "-c", uconf], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("conslab: unbound failed: %s %s\n" % (r.stdout, r.stderr))
        return 1
    if not wait_answer(NOAA, "noaa.test", "SOA", 30):
        sys.stderr.write("conslab: the ns6 responder does not answer\n")
        return 1
    if not wait_answer(UNBOUND, "ok.test", "NS", 30, rd=True):
        sys.stderr.write("conslab: unbound does not resolve ok.test NS\n")
        return 1
    lab = {"resolver": "%s:%d" % (UNBOUND, PORT), "resolver_source": UNBOUND_OUT, "port": PORT,
           "allow": ALLOW, "bulk": bulk, "dnstap": os.path.join(d, "dnstap.ndjson"),
           "silent_log": os.path.join(d, "ns8.log"), "noaa_log": os.path.join(d, "ns6.log"),
           "servers": {name: {"address": addr, "conf": os.path.join(cdir, "nsd.conf")}
                       for name, addr, cdir, _ in confs},
           "silent": SILENT, "dead": DEAD, "noaa": NOAA,
           "counters_reset": counters_reset}
    json.dump(lab, open(os.path.join(d, "lab.json"), "w"), indent=1, sort_keys=True)
    json.dump(truth(bulk), open(os.path.join(d, "truth.json"), "w"), indent=1, sort_keys=True)
    print("conslab: up in %s (%d domains)" % (d, len(cases)))
    return 0


def do_down(d, quiet=False):
    stop_pid(os.path.join(d, "unbound.pid"), "unbound")
    for name in ["parent"] + sorted(AUTH) + ["ns5"]:
        stop_pid(os.path.join(d, name, "nsd.pid"), "nsd " + name)
    stop_pid(os.path.join(d, "ns8.pid"), "silent listener")
    stop_pid(os.path.join(d, "ns6.pid"), "ns6 responder")
    stop_pid(os.path.join(d, "dnstap.pid"), "dnstap logger")
    for a in lab_addresses():
        ip_del(a)
    if not quiet:
        print("conslab: stopped")
    return 0


def do_status(d):
    rc = 0
    for name in ["parent"] + sorted(AUTH) + ["ns5"]:
        pid = alive(os.path.join(d, name, "nsd.pid"))
        print("nsd %s: %s" % (name, "running (%d)" % pid if pid else "stopped"))
        rc |= 0 if pid else 1
    for pf, name in (("unbound.pid", "unbound"), ("ns8.pid", "silent"), ("ns6.pid", "ns6"),
                     ("dnstap.pid", "dnstap")):
        pid = alive(os.path.join(d, pf))
        print("%s: %s" % (name, "running (%d)" % pid if pid else "stopped"))
        rc |= 0 if pid else 1
    return rc


def main(argv):
    if argv[:1] == ["truth"]:
        print(json.dumps(truth(int(argv[2]) if len(argv) > 2 and argv[1] == "--bulk" else 0),
                         indent=1, sort_keys=True))
        return 0
    if argv[:1] == ["silent"] and len(argv) == 5:
        silent_listener(argv[1], int(argv[2]), argv[3], argv[4])
        return 0
    if argv[:1] == ["noaa"] and len(argv) == 6:
        noaa_responder(argv[1], int(argv[2]), argv[3], argv[4], int(argv[5]))
        return 0
    if len(argv) < 2 or argv[0] not in ("up", "down", "status"):
        sys.stderr.write(__doc__)
        return 2
    d = os.path.abspath(argv[1])
    if argv[0] == "up":
        bulk = int(argv[argv.index("--bulk") + 1]) if "--bulk" in argv else 40
        return do_up(d, bulk)
    if argv[0] == "down":
        return do_down(d)
    return do_status(d)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

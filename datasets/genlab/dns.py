"""Reference model, DNS: the in-memory database the scenarios plant records
into, and what a recursive resolver (the lab's Unbound) answers from it:
CNAME chains, empty non-terminals, NXDOMAIN outside the served names,
SERVFAIL under lame delegations, Unbound's own localhost."""
from .world import ZONES


class DB:
    def __init__(self):
        self.rr = {}            # name -> {type: [rdata]}
        self.ttl = {}           # (name, type) -> ttl
        self.lame = set()       # delegation points to a dead server
        self.exists_set = set()

    def add(self, name, rtype, rdata, ttl=3600):
        name = name.lower().rstrip(".")
        self.rr.setdefault(name, {}).setdefault(rtype, [])
        if rdata in self.rr[name][rtype]:
            raise AssertionError("duplicate RR %s %s %r" % (name, rtype, rdata))
        if rtype == "CNAME" and len(self.rr[name]) > 1:
            raise AssertionError("CNAME and other data at %s" % name)
        if rtype != "CNAME" and "CNAME" in self.rr[name]:
            raise AssertionError("CNAME and other data at %s" % name)
        self.rr[name][rtype].append(rdata)
        old = self.ttl.get((name, rtype))
        if old is not None and old != ttl:
            raise AssertionError("TTL mismatch in RRset %s %s" % (name, rtype))
        self.ttl[(name, rtype)] = ttl

    def has(self, name):
        return name in self.rr

    def finish(self):
        ex = set()
        for name in self.rr:
            parts = name.split(".")
            for i in range(len(parts)):
                ex.add(".".join(parts[i:]))
        for z in ZONES:
            ex.add(z)
        self.exists_set = ex


def zone_of(name):
    best = None
    for z in ZONES:
        if z == "" or name == z or name.endswith("." + z):
            if best is None or len(z) > len(best):
                best = z
    return best


class Answer:
    __slots__ = ("rcode", "rrs", "cname", "ttl")

    def __init__(self, rcode, rrs=(), cname=False, ttl=None):
        self.rcode = rcode      # NOERROR NXDOMAIN SERVFAIL
        self.rrs = list(rrs)
        self.cname = cname
        self.ttl = ttl


class Resolver:
    """What a recursive resolver (the lab's Unbound) answers."""

    def __init__(self, db):
        self.db = db
        self.log = None         # dict (name, type) -> Answer when recording

    def under_lame(self, name):
        parts = name.split(".")
        for i in range(len(parts)):
            if ".".join(parts[i:]) in self.db.lame:
                return True
        return False

    def query(self, name, rtype):
        name = name.lower().rstrip(".")
        a = self._query(name, rtype)
        if self.log is not None:
            self.log[(name, rtype)] = a
        return a

    def _query(self, name, rtype):
        if name == "localhost":   # Unbound's built-in local zone (and the lab root zone)
            return Answer("NOERROR", {"A": ["127.0.0.1"], "AAAA": ["::1"]}.get(rtype, []))
        cname = False
        for _ in range(10):
            if self.under_lame(name):
                return Answer("SERVFAIL", cname=cname)
            if name not in self.db.exists_set:
                return Answer("NXDOMAIN", cname=cname)
            node = self.db.rr.get(name, {})
            if "CNAME" in node and rtype != "CNAME":
                cname = True
                name = node["CNAME"][0]
                continue
            rrs = node.get(rtype, [])
            return Answer("NOERROR", rrs, cname, self.db.ttl.get((name, rtype)))
        return Answer("SERVFAIL", cname=cname)

#!/usr/bin/env python3
"""genlab.py - deterministic MX/SPF/DMARC test-lab population with ground truth.

Usage: genlab.py --size N --seed S --out DIR [--profile default|torture]
                 [--nsd-addr A --nsd-port P --unbound-addr A --unbound-port P]

Writes into DIR:
  zones/*.zone      zone files for NSD (root ".", "test." and lab copies of
                    a few provider zones); zones/zones.conf lists them
  names.txt         the population, one input line per line (shuffled)
  truth.csv         domain,status,mail_status,findings - one row per line
  scenarios.csv     debugging aid: line,domain,mx,spf,dmarc scenario names
  queries.jsonl     every question the model asked and the answer it assumed
                    (the self-check replays them against the servers)
  recursive-only.txt domains whose truth assumes a recursive resolver
                    (lame delegations: a non-recursive path sees referrals)
  lab.env           shell variables for tests
  population.json   the parameters, so scripts/lab can skip regeneration

The ground truth comes from a reference model (class Model) that reads the
planted records and applies SPEC.md literally; the scenario builders only
plant records.  Each scenario also states codes it must produce; the
generator aborts if the model disagrees (double entry).
Standard library only.
"""
import argparse
import csv
import ipaddress
import json
import os
import random
import sys

def _gen_version():
    import hashlib
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


GEN_VERSION = _gen_version()     # any edit of this file regenerates labs

CODES = [
    "domain_invalid_name", "domain_nxdomain", "domain_lookup_failed",
    "mx_none_implicit", "mx_none_no_mail", "mx_null", "mx_null_mixed",
    "mx_ip_literal", "mx_target_invalid", "mx_origin_appended",
    "mx_localhost", "mx_cname", "mx_nxdomain", "mx_no_address",
    "mx_lookup_failed", "mx_private_address", "mx_all_unusable",
    "mx_duplicate", "mx_pref_all_equal", "mx_backup_preferred",
    "mx_same_addresses", "mx_ttl_high", "spf_missing", "spf_multiple",
    "spf_syntax", "spf_include_broken", "spf_lookup_limit", "spf_void_limit",
    "spf_pass_all", "spf_no_enforcement", "spf_mx_not_covered",
    "dmarc_missing", "dmarc_invalid", "dmarc_none",
    "dmarc_enforced_without_spf", "provider_mismatch",
    "smtp_unreachable", "smtp_host_unreachable", "smtp_rejects_domain",
    "smtp_no_starttls",
]
CODE_ORDER = {c: i for i, c in enumerate(CODES)}
SEVERITY = {c: "error" for c in CODES}
SEVERITY.update({c: "warn" for c in (
    "domain_lookup_failed", "mx_none_implicit", "mx_lookup_failed",
    "mx_duplicate", "mx_backup_preferred", "mx_ttl_high", "spf_missing",
    "spf_mx_not_covered", "dmarc_missing", "dmarc_enforced_without_spf",
    "provider_mismatch", "smtp_host_unreachable", "smtp_no_starttls")})
SEVERITY.update({c: "info" for c in (
    "domain_nxdomain", "mx_none_no_mail", "mx_null", "mx_pref_all_equal",
    "mx_same_addresses", "spf_no_enforcement", "dmarc_none")})

ALLOW = "198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48"
ALLOW_NETS = [ipaddress.ip_network(n) for n in ALLOW.split(",")]

ZONES = ["", "test", "google.com", "outlook.com", "yahoodns.net", "yahoo.com",
         "zoho.com", "pphosted.com", "mimecast.com"]

# Providers: name -> (kind, exchange suffixes, include names)
PROVIDERS = {
    "google": ("mailbox", ["google.com", "googlemail.com"], ["_spf.google.com"]),
    "microsoft": ("mailbox", ["mail.protection.outlook.com", "outlook.com"],
                  ["spf.protection.outlook.com"]),
    "yahoo": ("mailbox", ["yahoodns.net"], ["_spf.mail.yahoo.com"]),
    "zoho": ("mailbox", ["zoho.com"], ["zoho.com", "one.zoho.com"]),
    "proofpoint": ("gateway", ["pphosted.com"], ["pphosted.com"]),
    "mimecast": ("gateway", ["mimecast.com"], ["_netblocks.mimecast.com"]),
}
INCLUDE_PROVIDER = {inc: p for p, (_, _, incs) in PROVIDERS.items() for inc in incs}

LAME_ADDR = "127.0.0.99"   # nothing listens there on port 53


# ---------------------------------------------------------------- names

def label_ok(lab, allow_underscore=False):
    if not 1 <= len(lab) <= 63:
        return False
    if lab[0] == "-" or lab[-1] == "-":
        return False
    for ch in lab:
        if ch.isascii() and (ch.isalnum() or ch == "-"):
            continue
        if allow_underscore and ch == "_":
            continue
        return False
    return True


def host_valid(name, allow_underscore=False):
    """SPEC 'valid host name'; name without trailing dot, lowercase."""
    if not name or len(name) > 253:
        return False
    return all(label_ok(l, allow_underscore) for l in name.split("."))


def is_ipv4_literal(name):
    parts = name.split(".")
    if len(parts) != 4:
        return False
    try:
        ipaddress.IPv4Address(name)
        return True
    except ValueError:
        return False


def is_ipv6_literal(name):
    if ":" not in name:
        return False
    try:
        ipaddress.IPv6Address(name)
        return True
    except ValueError:
        return False


def org_domain(name):
    """PSL default rule for this lab: all lab names (test., google.com, ...)
    have a one-label public suffix, so the organizational domain is the last
    two labels.  Single-label names have none."""
    labels = name.split(".")
    if len(labels) < 2:
        return None
    return ".".join(labels[-2:])


def normalise_input(line):
    """Returns (domain, valid).  Mirrors SPEC 1.1 for the inputs we emit."""
    s = line.strip()
    if s.endswith("."):
        s = s[:-1]
    s = s.lower()
    if not s.isascii():
        try:
            s = ".".join(idna_label(l) for l in s.split("."))
        except ValueError:
            return line.strip(), False
    if not host_valid(s):
        return line.strip(), False
    return s, True


# Non-ASCII characters we use in U-labels: PVALID in IDNA2008, lowercase,
# NFC, and mapped identically by IDNA2003, TR46 and libidn2 defaults.
IDN_OK = set("üöäéèñçåø")


def idna_label(lab):
    if lab.isascii():
        return lab
    for ch in lab:
        if not (ch.isascii() or ch in IDN_OK):
            raise ValueError("not an IDNA2008 label we model: %r" % lab)
    return "xn--" + lab.encode("punycode").decode("ascii")


# ---------------------------------------------------------------- database

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


# ---------------------------------------------------------------- SPF model

class SpfSyntax(Exception):
    pass


def spf_records(txts):
    out = []
    for t in txts:
        low = t.lower()
        if low == "v=spf1" or low.startswith("v=spf1 "):
            out.append(t)
    return out


def spf_parse(rec):
    """Parse the subset the lab plants. Returns (mechs, redirect) where mechs
    is a list of (qualifier, name, arg, cidr4, cidr6)."""
    terms = rec.split()[1:]
    mechs, redirect = [], None
    for t in terms:
        if "=" in t and ":" not in t.split("=")[0]:
            k, v = t.split("=", 1)
            k = k.lower()
            if k == "redirect":
                if redirect is not None or not v:
                    raise SpfSyntax(t)
                redirect = v.lower()
            elif k == "exp":
                pass
            elif not k or not all(c.isalnum() or c in "-_." for c in k):
                raise SpfSyntax(t)
            continue
        q = "+"
        if t[0] in "+-~?":
            q, t = t[0], t[1:]
        name, _, arg = t.partition(":")
        c4 = c6 = None
        name = name.lower()
        if "/" in name:
            raise SpfSyntax(t)
        if name in ("a", "mx") and "/" in arg:
            arg, _, cidr = arg.partition("/")
            c4 = int(cidr)
            if not 0 <= c4 <= 32:
                raise SpfSyntax(t)
        if name == "all":
            if _:
                raise SpfSyntax(t)
        elif name == "include" or name == "exists":
            if not arg:
                raise SpfSyntax(t)
        elif name in ("a", "mx", "ptr"):
            if _ and not arg:
                raise SpfSyntax(t)
        elif name == "ip4":
            try:
                ipaddress.IPv4Network(arg, strict=False)
            except ValueError:
                raise SpfSyntax(t)
        elif name == "ip6":
            try:
                ipaddress.IPv6Network(arg, strict=False)
            except ValueError:
                raise SpfSyntax(t)
        else:
            raise SpfSyntax(t)
        mechs.append((q, name, arg.lower(), c4, c6))
    return mechs, redirect


DNS_MECHS = ("include", "a", "mx", "ptr", "exists")


class SpfTree:
    """Static evaluation of the whole tree (SPEC 'SPF limits are static')."""

    def __init__(self, res, domain, record):
        self.res = res
        self.lookups = 0
        self.voids = 0
        self.loop = False
        self.include_broken = False
        self.authorized = set()      # include names seen anywhere
        self.visit(domain, record, (domain,))

    def fetch(self, target):
        a = self.res.query(target, "TXT")
        if a.rcode == "SERVFAIL":
            self.include_broken = True
            return None
        if a.rcode == "NXDOMAIN" or not a.rrs:
            self.voids += 1
            self.include_broken = True
            return None
        recs = spf_records(a.rrs)
        if len(recs) != 1:
            self.include_broken = True
            return None
        return recs[0]

    def follow(self, target, stack):
        if target in stack:
            self.loop = True
            return
        if self.lookups > 200:      # loop guard for pathological trees
            self.loop = True
            return
        rec = self.fetch(target)
        if rec is not None:
            self.visit(target, rec, stack + (target,))

    def visit(self, cur, record, stack):
        mechs, redirect = spf_parse(record)   # included records parse (lab plants them)
        has_all = any(m[1] == "all" for m in mechs)
        for q, name, arg, c4, c6 in mechs:
            if name in DNS_MECHS:
                self.lookups += 1
            if name == "include":
                self.authorized.add(arg)
                self.follow(arg, stack)
            elif name == "a":
                t = arg or cur
                a4 = self.res.query(t, "A")
                a6 = self.res.query(t, "AAAA")
                if "SERVFAIL" not in (a4.rcode, a6.rcode) and not a4.rrs and not a6.rrs:
                    self.voids += 1
            elif name == "mx":
                t = arg or cur
                m = self.res.query(t, "MX")
                if m.rcode != "SERVFAIL" and not m.rrs:
                    self.voids += 1
            elif name == "exists":
                a4 = self.res.query(arg, "A")
                if a4.rcode != "SERVFAIL" and not a4.rrs:
                    self.voids += 1
        if redirect and not has_all:
            self.lookups += 1
            self.authorized.add(redirect)
            self.follow(redirect, stack)


class PermError(Exception):
    pass


class TempError(Exception):
    pass


def ip_in(ip, net_str, default_len):
    try:
        net = ipaddress.ip_network(net_str if "/" in net_str else
                                   "%s/%d" % (net_str, default_len), strict=False)
    except ValueError:
        return False
    return ip.version == net.version and ip in net


def check_host(res, ip, domain, state=None):
    """RFC 7208 check_host (dynamic, stops at first match), subset."""
    if state is None:
        state = {"lookups": 0, "voids": 0}
    a = res.query(domain, "TXT")
    if a.rcode == "SERVFAIL":
        return "temperror"
    recs = spf_records(a.rrs if a.rcode == "NOERROR" else [])
    if not recs:
        return "none"
    if len(recs) > 1:
        return "permerror"
    try:
        mechs, redirect = spf_parse(recs[0])
    except SpfSyntax:
        return "permerror"
    try:
        for q, name, arg, c4, c6 in mechs:
            if name in DNS_MECHS:
                state["lookups"] += 1
                if state["lookups"] > 10:
                    raise PermError()
            match = False
            if name == "all":
                match = True
            elif name == "ip4" or name == "ip6":
                match = ip_in(ip, arg, 32 if name == "ip4" else 128)
            elif name == "include":
                r = check_host(res, ip, arg, state)
                if r == "pass":
                    match = True
                elif r == "temperror":
                    raise TempError()
                elif r in ("permerror", "none"):
                    raise PermError()
            elif name == "a":
                match = addr_match(res, ip, arg or domain, c4, state)
            elif name == "mx":
                m = res.query(arg or domain, "MX")
                if m.rcode == "SERVFAIL":
                    raise TempError()
                if not m.rrs:
                    void(state)
                for pref, ex in m.rrs[:10]:
                    # a failing exchange look-up inside `mx` makes the result
                    # depend on the order and the implementation: flagged
                    if ex and res.query(ex, "A").rcode == "SERVFAIL":
                        state["ambiguous"] = True
                for pref, ex in m.rrs[:10]:
                    if ex and addr_match(res, ip, ex, c4, state, count_void=False):
                        match = True
                        break
            elif name == "exists":
                x = res.query(arg, "A")
                match = bool(x.rrs)
            if match:
                return {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}[q]
        if redirect:
            state["lookups"] += 1
            if state["lookups"] > 10:
                raise PermError()
            r = check_host(res, ip, redirect, state)
            return "permerror" if r == "none" else r
        return "neutral"
    except PermError:
        return "permerror"
    except TempError:
        return "temperror"


def void(state):
    state["voids"] += 1
    if state["voids"] > 2:
        raise PermError()


def addr_match(res, ip, name, c4, state, count_void=True):
    rtype = "A" if ip.version == 4 else "AAAA"
    a = res.query(name, rtype)
    if a.rcode == "SERVFAIL":
        raise TempError()
    if not a.rrs and count_void:
        void(state)
    plen = c4 if (c4 is not None and ip.version == 4) else (32 if ip.version == 4 else 128)
    return any(ip_in(ip, "%s/%d" % (x, plen), plen) for x in a.rrs)


# ---------------------------------------------------------------- DMARC model

DMARC_CHECK = {
    "p": lambda v: v in ("none", "quarantine", "reject"),
    "sp": lambda v: v in ("none", "quarantine", "reject"),
    "pct": lambda v: v.isdigit() and 0 <= int(v) <= 100,
    "adkim": lambda v: v in ("r", "s"),
    "aspf": lambda v: v in ("r", "s"),
    "fo": lambda v: all(x in ("0", "1", "d", "s") for x in v.split(":")),
    "rf": lambda v: all(x == "afrf" for x in v.split(":")),
    "ri": lambda v: v.isdigit(),
}


def dmarc_tags(rec):
    tags = []
    for part in rec.split(";"):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        tags.append((k.strip().lower(), v.strip()))
    return tags


def dmarc_candidates(txts):
    """Records that are DMARC records (start with v=DMARC1) and records that
    carry a v=DMARC1 tag elsewhere (SPEC: 'v=DMARC1 not first' is invalid)."""
    first, later = [], []
    for t in txts:
        tags = dmarc_tags(t)
        if tags and tags[0] == ("v", "DMARC1"):
            first.append(t)
        elif ("v", "DMARC1") in tags:
            later.append(t)
    return first, later


def dmarc_judge(res, domain):
    """Returns (present, invalid, policy)."""
    names = ["_dmarc." + domain]
    org = org_domain(domain)
    if org and org != domain:
        names.append("_dmarc." + org)
    for i, n in enumerate(names):
        a = res.query(n, "TXT")
        first, later = dmarc_candidates(a.rrs if a.rcode == "NOERROR" else [])
        if not first and not later:
            continue
        if later or len(first) > 1:
            return True, True, None
        tags = dict(dmarc_tags(first[0]))
        for k, chk in DMARC_CHECK.items():
            if k in tags and not chk(tags[k]):
                return True, True, None
        if "p" not in tags:
            return True, True, None
        pol = tags["p"]
        if i == 1 and "sp" in tags:
            pol = tags["sp"]
        return True, False, pol
    return False, False, None


# ---------------------------------------------------------------- the model

def addr_global(a):
    ip = ipaddress.ip_address(a)
    return any(ip.version == n.version and ip in n for n in ALLOW_NETS)


def backup_marked(ex):
    first = ex.split(".")[0]
    for part in first.split("-"):
        if part.rstrip("0123456789") in ("backup", "bak", "secondary", "fallback"):
            return True
    return False


def provider_of(ex):
    for p, (kind, sufs, _) in PROVIDERS.items():
        for s in sufs:
            if ex == s or ex.endswith("." + s):
                return p
    return None


class Model:
    def __init__(self, db):
        self.res = Resolver(db)
        self.cache = {}

    def exchange(self, ex):
        if ex in self.cache:
            return self.cache[ex]
        r = self._exchange(ex)
        self.cache[ex] = r
        return r

    def _exchange(self, ex):
        info = {"codes": set(), "usable": False, "failed": False,
                "addrs": None, "looked_up": False}
        c = info["codes"]
        if is_ipv4_literal(ex) or is_ipv6_literal(ex):
            c.add("mx_ip_literal")
            return info
        if not host_valid(ex):
            c.add("mx_target_invalid")
            if not host_valid(ex, allow_underscore=True):
                return info
        if ex == "localhost" or ex.startswith("localhost."):
            c.add("mx_localhost")
        info["looked_up"] = True
        a4 = self.res.query(ex, "A")
        a6 = self.res.query(ex, "AAAA")
        if a4.cname or a6.cname:
            c.add("mx_cname")
        if "SERVFAIL" in (a4.rcode, a6.rcode):
            c.add("mx_lookup_failed")
            info["failed"] = True
            return info
        if a4.rcode == "NXDOMAIN":
            c.add("mx_nxdomain")
            return info
        addrs = a4.rrs + a6.rrs
        if not addrs:
            c.add("mx_no_address")
            return info
        info["addrs"] = frozenset(addrs)
        if any(not addr_global(x) for x in addrs):
            c.add("mx_private_address")
        info["usable"] = any(addr_global(x) for x in addrs)
        return info

    def evaluate(self, domain):
        """Returns (status, mail_status, codes:set, notes:dict)."""
        res = self.res
        codes = set()
        notes = {"ambiguous": []}
        m = res.query(domain, "MX")
        if m.rcode == "NXDOMAIN":
            return "NXDOMAIN", "nxdomain", {"domain_nxdomain"}, notes
        if m.rcode == "SERVFAIL":
            return "SERVFAIL", "unknown", {"domain_lookup_failed"}, notes
        records = m.rrs
        exchanges = []       # distinct, in order
        usable = []
        if not records:
            a4 = res.query(domain, "A")
            a6 = res.query(domain, "AAAA")
            if a4.rrs or a6.rrs:
                codes.add("mx_none_implicit")
                mail = "implicit"
            else:
                codes.add("mx_none_no_mail")
                mail = "no_mail"
        else:
            if m.ttl is not None and m.ttl > 86400:
                codes.add("mx_ttl_high")
            nulls = [p for p, ex in records if ex == ""]
            real = [(p, ex) for p, ex in records if ex != ""]
            if len(records) == 1 and nulls == [0]:
                codes.add("mx_null")
            elif nulls:
                codes.add("mx_null_mixed")
            for p, ex in real:
                if ex not in exchanges:
                    exchanges.append(ex)
            if len(real) != len(exchanges):
                codes.add("mx_duplicate")
            if len(exchanges) >= 2 and len({p for p, _ in real}) == 1:
                codes.add("mx_pref_all_equal")
            for p1, e1 in real:
                for p2, e2 in real:
                    if backup_marked(e1) and not backup_marked(e2) and p1 < p2:
                        codes.add("mx_backup_preferred")
            dom_parts = [domain]
            org = org_domain(domain)
            if org and org != domain:
                dom_parts.append(org)
            failed = False
            for ex in exchanges:
                for d in dom_parts:
                    dd = d + "." + d
                    if ex == dd or ex.endswith("." + dd):
                        codes.add("mx_origin_appended")
                info = self.exchange(ex)
                codes |= info["codes"]
                if info["usable"]:
                    usable.append(ex)
                failed = failed or info["failed"]
            sets = [self.exchange(ex)["addrs"] for ex in exchanges]
            if len(exchanges) >= 2 and all(s for s in sets) and len(set(sets)) == 1:
                codes.add("mx_same_addresses")
            if exchanges and not usable and not failed:
                codes.add("mx_all_unusable")
            if "mx_null" in codes:
                mail = "no_mail"
            elif usable:
                bad = any(c.startswith("mx_") and SEVERITY[c] in ("error", "warn")
                          for c in codes)
                mail = "degraded" if bad else "ok"
            elif failed:
                mail = "unknown"
            else:
                mail = "broken"
        # ---- SPF
        t = res.query(domain, "TXT")
        recs = spf_records(t.rrs)
        spf_broken = False
        tree = None
        if not recs:
            codes.add("spf_missing")
            spf_broken = True
        elif len(recs) > 1:
            codes.add("spf_multiple")
            spf_broken = True
        else:
            try:
                mechs, redirect = spf_parse(recs[0])
            except SpfSyntax:
                codes.add("spf_syntax")
                spf_broken = True
                mechs = None
            if mechs is not None:
                tree = SpfTree(res, domain, recs[0])
                if tree.include_broken:
                    codes.add("spf_include_broken")
                if tree.loop or tree.lookups > 10:
                    codes.add("spf_lookup_limit")
                if tree.voids > 2:
                    codes.add("spf_void_limit")
                spf_broken = bool(codes & {"spf_include_broken", "spf_lookup_limit",
                                           "spf_void_limit"})
                alls = [q for q, n, _, _, _ in mechs if n == "all"]
                if alls and alls[-1] == "+":
                    codes.add("spf_pass_all")
                if (alls and alls[-1] == "?") or (not alls and not redirect):
                    codes.add("spf_no_enforcement")
                # spf_mx_not_covered: self-hosted real exchanges
                dorg = org_domain(domain)
                for ex in exchanges:
                    info = self.exchange(ex)
                    if not info["addrs"] or org_domain(ex) != dorg:
                        continue
                    for a in sorted(info["addrs"]):
                        st = {"lookups": 0, "voids": 0}
                        r = check_host(res, ipaddress.ip_address(a), domain, st)
                        if st.get("ambiguous"):
                            notes["ambiguous"].append("check_host mx meets a failing exchange")
                        if r == "temperror":
                            notes["ambiguous"].append("check_host temperror for %s" % a)
                        if r != "pass":
                            codes.add("spf_mx_not_covered")
                        elif spf_broken:
                            notes["ambiguous"].append(
                                "static-broken SPF passes %s dynamically" % a)
        # ---- DMARC
        present, invalid, pol = dmarc_judge(res, domain)
        if not present:
            codes.add("dmarc_missing")
        elif invalid:
            codes.add("dmarc_invalid")
            if spf_broken:
                notes["ambiguous"].append("invalid DMARC with broken SPF")
        else:
            if pol == "none":
                codes.add("dmarc_none")
            if pol in ("quarantine", "reject") and spf_broken:
                codes.add("dmarc_enforced_without_spf")
        # ---- provider mismatch: the exchanges belong to P when every
        # exchange (the null MX aside) is P's, usable or not (SPEC)
        if exchanges and tree is not None:
            provs = {provider_of(ex) for ex in exchanges}
            if len(provs) == 1:
                p = provs.pop()
                if p and PROVIDERS[p][0] == "mailbox":
                    auth = {INCLUDE_PROVIDER[i] for i in tree.authorized
                            if i in INCLUDE_PROVIDER}
                    others = {q for q in auth if q != p and PROVIDERS[q][0] == "mailbox"}
                    if others and p not in auth:
                        codes.add("provider_mismatch")
        return "NOERROR", mail, codes, notes


# ---------------------------------------------------------------- the lab

WORDS = ("acme alpha bistro cargo delta ember fjord garden harbor indigo jade "
         "kite lumen maple nova orbit pixel quartz river summit tundra umbra "
         "vertex willow xenon yonder zephyr atlas bramble cedar dune echo "
         "falcon glade heron iris juniper kestrel lotus meadow nimbus oasis "
         "prism quill raven sierra thistle unity velvet wren yarrow zenith "
         "shop bakery clinic studio works labs media law farm").split()


def fq(name):
    return name if name == "." else name.rstrip(".") + "."


class Lab:
    def __init__(self, seed):
        self.rng = random.Random("genlab-%s" % seed)
        self.db = DB()
        self.counter = 0
        self.v6counter = 0
        self.hostcos = []
        self.pp_ids = []
        self.gone = 0
        self.shared_done = set()
        self.build_shared()

    # ---------- addresses
    def pub4(self):
        """Public address for lab hosts; disjoint from every ip4 range that
        a planted SPF record names (providers 198.51.100.0/25, hosting
        companies 203.0.113.0-119, chain/loop 203.0.113.200-255,
        198.51.100.250-255)."""
        r = self.rng
        if r.random() < 0.6:
            return "198.51.100.%d" % r.randint(128, 249)
        return "203.0.113.%d" % r.randint(120, 199)

    def pub4s(self, k):
        out = set()
        while len(out) < k:
            out.add(self.pub4())
        return sorted(out)

    def pub6(self):
        self.v6counter += 1
        return "2001:db8:1:%x::%x" % (0x1000 + self.v6counter // 200, 1 + self.v6counter % 200)

    def priv(self):
        r = self.rng
        return r.choice([
            lambda: "10.%d.%d.%d" % (r.randint(0, 255), r.randint(0, 255), r.randint(1, 254)),
            lambda: "192.168.%d.%d" % (r.randint(0, 255), r.randint(1, 254)),
            lambda: "172.%d.%d.%d" % (r.randint(16, 31), r.randint(0, 255), r.randint(1, 254)),
            lambda: "127.0.0.%d" % r.randint(1, 254),
            lambda: "100.%d.%d.%d" % (r.randint(64, 127), r.randint(0, 255), r.randint(1, 254)),
            lambda: "192.0.2.%d" % r.randint(1, 254),
            lambda: "169.254.%d.%d" % (r.randint(1, 254), r.randint(1, 254)),
            lambda: "198.18.%d.%d" % (r.randint(0, 255), r.randint(1, 254)),
            lambda: "0.0.0.0",
        ])()

    def priv6(self):
        r = self.rng
        return r.choice(["fd00::%x" % r.randint(1, 0xffff), "fe80::%x" % r.randint(1, 0xffff),
                         "2001:db8:ff::%x" % r.randint(1, 0xffff), "::1"])

    # ---------- names
    def new_name(self):
        self.counter += 1
        return "%s%d.test" % (self.rng.choice(WORDS), self.counter)

    def gone_name(self, under=None):
        self.gone += 1
        return "gone%d.%s" % (self.gone, under or "test")

    def add(self, *a, **k):
        self.db.add(*a, **k)

    # ---------- shared infrastructure
    def build_shared(self):
        A = self.add
        A("localhost", "A", "127.0.0.1")
        A("localhost", "AAAA", "::1")
        # Google
        g = [("aspmx.l.google.com", "198.51.100.10"), ("alt1.aspmx.l.google.com", "198.51.100.11"),
             ("alt2.aspmx.l.google.com", "198.51.100.12"), ("alt3.aspmx.l.google.com", "198.51.100.13"),
             ("alt4.aspmx.l.google.com", "198.51.100.14"), ("smtp.google.com", "198.51.100.15")]
        for i, (n, a) in enumerate(g):
            A(n, "A", a, 300)
            A(n, "AAAA", "2001:db8:1:10::%x" % (i + 1), 300)
        A("_spf.google.com", "TXT", "v=spf1 include:_netblocks.google.com "
          "include:_netblocks2.google.com include:_netblocks3.google.com ~all")
        A("_netblocks.google.com", "TXT", "v=spf1 ip4:198.51.100.0/28 ~all")
        A("_netblocks2.google.com", "TXT", "v=spf1 ip6:2001:db8:1:10::/64 ~all")
        A("_netblocks3.google.com", "TXT", "v=spf1 ip4:198.51.100.16/28 ~all")
        A("google.com", "MX", (10, "smtp.google.com"))
        A("google.com", "TXT", "v=spf1 include:_spf.google.com ~all")
        # Microsoft (tenant names are planted per domain)
        A("spf.protection.outlook.com", "TXT", "v=spf1 ip4:198.51.100.32/28 "
          "ip6:2001:db8:1:20::/64 include:spfd.protection.outlook.com -all")
        A("spfd.protection.outlook.com", "TXT", "v=spf1 ip4:198.51.100.48/28 -all")
        A("outlook.com", "MX", (5, "outlook-com.olc.protection.outlook.com"))
        A("outlook-com.olc.protection.outlook.com", "A", "198.51.100.33")
        # Yahoo
        for i in (5, 6, 7):
            A("mta%d.am0.yahoodns.net" % i, "A", "198.51.100.%d" % (60 + i))
        A("_spf.mail.yahoo.com", "TXT", "v=spf1 ip4:198.51.100.64/28 ~all")
        # Zoho
        for n, a in (("mx.zoho.com", 80), ("mx2.zoho.com", 81), ("mx3.zoho.com", 82)):
            A(n, "A", "198.51.100.%d" % a)
        A("zoho.com", "TXT", "v=spf1 include:one.zoho.com ~all")
        A("one.zoho.com", "TXT", "v=spf1 ip4:198.51.100.80/28 -all")
        # Proofpoint, Mimecast
        for i in range(20):
            pid = "00%d%04d" % (1 + i % 3, 1000 + i * 37)
            self.pp_ids.append(pid)
            A("mx0a-%s.pphosted.com" % pid, "A", "198.51.100.%d" % (96 + i % 8))
            A("mx0b-%s.pphosted.com" % pid, "A", "198.51.100.%d" % (104 + i % 8))
        A("pphosted.com", "TXT", "v=spf1 ip4:198.51.100.96/28 -all")
        for reg in ("eu", "us"):
            for i in (1, 2):
                A("%s-smtp-inbound-%d.mimecast.com" % (reg, i), "A",
                  "198.51.100.%d" % (112 + i + (2 if reg == "us" else 0)))
        A("_netblocks.mimecast.com", "TXT", "v=spf1 ip4:198.51.100.112/28 -all")
        # hosting companies under test. (not in the provider list)
        for k in range(1, 9):
            h = "hostco%d.test" % k
            self.hostcos.append(h)
            A("mx1." + h, "A", "203.0.113.%d" % (k * 2))
            A("mx2." + h, "A", "203.0.113.%d" % (k * 2 + 100))
            A("mx1." + h, "AAAA", "2001:db8:1:30::%x" % k)
            A("spf." + h, "TXT", "v=spf1 ip4:203.0.113.%d ip4:203.0.113.%d -all"
              % (k * 2, k * 2 + 100))
        # SPF include chain of 12 hops, and include loops
        for k in range(1, 13):
            A("h%d.spfchain.test" % k, "TXT", "v=spf1 ip4:203.0.113.%d %s-all"
              % (200 + k, ("include:h%d.spfchain.test " % (k + 1)) if k < 12 else ""))
        A("loop-a.test", "TXT", "v=spf1 include:loop-b.test -all")
        A("loop-b.test", "TXT", "v=spf1 ip4:203.0.113.250 include:loop-a.test -all")
        for k in range(1, 4):
            A("nospf%d.test" % k, "TXT", "google-site-verification=lab%d" % k)
        # lame delegations (dead server)
        for k in range(1, 4):
            z = "lame%d.test" % k
            self.db.lame.add(z)
            A(z, "NS", "ns." + z)
            A("ns." + z, "A", LAME_ADDR)

    # ---------- MX scenarios: each plants records for domain d and returns
    # (must_codes, spf_context, fixed_spf or None)
    def mx_google(self, d):
        for p, n in ((1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com"),
                     (5, "alt2.aspmx.l.google.com"), (10, "alt3.aspmx.l.google.com"),
                     (10, "alt4.aspmx.l.google.com")):
            self.add(d, "MX", (p, n))
        return set(), ["include:_spf.google.com"], None

    def mx_google1(self, d):
        self.add(d, "MX", (1, "smtp.google.com"))
        return set(), ["include:_spf.google.com"], None

    def tenant(self, d):
        t = d.replace(".", "-") + ".mail.protection.outlook.com"
        self.add(t, "A", "198.51.100.%d" % self.rng.randint(32, 47))
        self.add(t, "A", "198.51.100.%d" % self.rng.randint(48, 59))
        return t

    def mx_microsoft(self, d):
        self.add(d, "MX", (0, self.tenant(d)))
        return set(), ["include:spf.protection.outlook.com"], None

    def mx_yahoo(self, d):
        for i in (5, 6, 7):
            self.add(d, "MX", (1, "mta%d.am0.yahoodns.net" % i))
        return {"mx_pref_all_equal"}, ["include:_spf.mail.yahoo.com"], None

    def mx_zoho(self, d):
        for p, n in ((10, "mx.zoho.com"), (20, "mx2.zoho.com"), (50, "mx3.zoho.com")):
            self.add(d, "MX", (p, n))
        return set(), ["include:" + self.rng.choice(["zoho.com", "one.zoho.com"])], None

    def mx_proofpoint(self, d):
        pid = self.rng.choice(self.pp_ids)
        self.add(d, "MX", (10, "mx0a-%s.pphosted.com" % pid))
        self.add(d, "MX", (10, "mx0b-%s.pphosted.com" % pid))
        return {"mx_pref_all_equal"}, ["include:pphosted.com"], None

    def mx_mimecast(self, d):
        reg = self.rng.choice(["eu", "us"])
        self.add(d, "MX", (10, "%s-smtp-inbound-1.mimecast.com" % reg))
        self.add(d, "MX", (10, "%s-smtp-inbound-2.mimecast.com" % reg))
        return {"mx_pref_all_equal"}, ["include:_netblocks.mimecast.com"], None

    def mx_hostco(self, d):
        h = self.rng.choice(self.hostcos)
        self.add(d, "MX", (10, "mx1." + h))
        self.add(d, "MX", (20, "mx2." + h))
        return set(), ["include:spf." + h], None

    def host(self, name, v6=None, addrs=None):
        addrs = addrs or [self.pub4()]
        for a in addrs:
            self.add(name, "A", a)
        if v6 is None:
            v6 = self.rng.random() < 0.3
        if v6:
            self.add(name, "AAAA", self.pub6())
        return addrs

    def self_spf(self, d, exs):
        """SPF mechanisms that cover self-hosted exchanges exs."""
        r = self.rng.random()
        if r < 0.45:
            return ["mx"]
        if r < 0.7:
            return ["a:" + e for e in exs]
        mech = []
        for e in exs:
            for a in self.db.rr[e].get("A", []):
                mech.append("ip4:" + a)
            for a in self.db.rr[e].get("AAAA", []):
                mech.append("ip6:" + a)
        return mech

    def mx_self(self, d):
        e1 = "mail." + d
        self.host(e1)
        self.add(d, "MX", (10, e1))
        exs = [e1]
        if self.rng.random() < 0.4:
            e2 = "mx2." + d
            self.host(e2)
            self.add(d, "MX", (20, e2))
            exs.append(e2)
        return set(), self.self_spf(d, exs), None

    def mx_self_uncovered(self, d):
        e1 = self.rng.choice(["mail.", "mx.", "smtp."]) + d
        kind = self.rng.randrange(4)
        if kind == 0:       # SPF only covers the provider, exchange self-hosted
            self.host(e1, v6=False)
            spf = ["include:_spf.google.com", "~all"]
        elif kind == 1:     # ip4 covers another address
            self.host(e1, v6=False)
            spf = ["ip4:203.0.113.0/30" if self.rng.random() < 0.5 else "ip4:198.51.100.250", "-all"]
        elif kind == 2:     # ip4 only, exchange also has IPv6
            a = self.host(e1, v6=True)
            spf = ["ip4:" + a[0], "-all"]
        else:               # covered with softfail only (~all does not pass)
            self.host(e1, v6=False)
            spf = ["a:www." + d, "~all"]
            self.add("www." + d, "A", "198.51.100.251")
        self.add(d, "MX", (10, e1))
        return {"spf_mx_not_covered"}, None, spf

    def mx_self_domain(self, d):
        self.host(d)
        self.add(d, "MX", (10, d))
        return set(), [self.rng.choice(["a", "mx"])], None

    def mx_implicit(self, d):
        self.host(d)
        return {"mx_none_implicit"}, ["a"], None

    def mx_nomail(self, d):
        if self.rng.random() < 0.5:
            self.add("www." + d, "A", self.pub4())   # d is an empty non-terminal
        else:
            self.add(d, "TXT", "parked")
        return {"mx_none_no_mail"}, [], None

    def mx_null(self, d):
        self.add(d, "MX", (0, ""))
        return {"mx_null"}, [], ["-all"]

    def mx_null10(self, d):
        self.add(d, "MX", (10, ""))
        return {"mx_null_mixed"}, [], ["-all"]

    def mx_null_mixed(self, d):
        e = "mail." + d
        self.host(e)
        self.add(d, "MX", (0, ""))
        self.add(d, "MX", (10, e))
        return {"mx_null_mixed"}, ["mx"], None

    def mx_iplit4(self, d):
        self.add(d, "MX", (10, self.rng.choice(["192.0.2.1", "198.51.100.%d" % self.rng.randint(128, 254),
                                                 "10.0.0.%d" % self.rng.randint(1, 254)])))
        return {"mx_ip_literal", "mx_all_unusable"}, [], None

    def mx_iplit_mixed(self, d):
        e = "mail." + d
        self.host(e)
        lit = self.db.rr[e]["A"][0]
        if self.rng.random() < 0.5:
            self.add(d, "MX", (10, e))
            self.add(d, "MX", (20, lit))
        else:
            # the literal first in the answer: check_host's mx mechanism
            # asks the literal's A (a name never looked up otherwise) before
            # it reaches the exchange that matches
            self.add(d, "MX", (5, lit))
            self.add(d, "MX", (10, e))
        return {"mx_ip_literal"}, ["mx"], None

    def mx_iplit6(self, d):
        self.add(d, "MX", (10, self.rng.choice(["2001:db8:1::25", "2001:db8::1", "fd00::25"])))
        return {"mx_ip_literal", "mx_all_unusable"}, [], None

    def mx_invalid_hyphen(self, d):
        self.add(d, "MX", (10, self.rng.choice(["-mx.", "mx-.", "mail.-x."]) + d))
        return {"mx_target_invalid", "mx_all_unusable"}, [], None

    def mx_underscore(self, d):
        e = self.rng.choice(["mx_1.", "mail_server.", "smtp_out."]) + d
        self.host(e)
        self.add(d, "MX", (10, e))
        return {"mx_target_invalid"}, ["mx"], None

    def mx_origin(self, d):
        o = d if self.rng.random() < 0.6 else org_domain(d)
        e = "mail.%s.%s" % (o, o)
        if self.rng.random() < 0.4:
            self.host(e)
            self.add(d, "MX", (10, e))
            return {"mx_origin_appended"}, ["mx"], None
        self.add(d, "MX", (10, e))
        return {"mx_origin_appended", "mx_nxdomain", "mx_all_unusable"}, [], None

    def mx_localhost(self, d):
        kind = self.rng.randrange(3)
        if kind == 0:
            self.add(d, "MX", (10, "localhost"))
            return {"mx_localhost", "mx_private_address", "mx_all_unusable"}, [], None
        e = "localhost." + d
        if kind == 1:
            self.add(e, "A", "127.0.0.1")
            self.add(d, "MX", (10, e))
            return {"mx_localhost", "mx_private_address", "mx_all_unusable"}, [], None
        self.add(d, "MX", (10, e))
        return {"mx_localhost", "mx_nxdomain", "mx_all_unusable"}, [], None

    def mx_cname(self, d):
        e = "mail." + d
        kind = self.rng.randrange(4)
        self.add(d, "MX", (10, e))
        if kind <= 1:
            t = "host%d.%s" % (kind, d)
            self.host(t)
            if kind == 1:   # two-step chain
                self.add("mx." + d, "CNAME", t)
                t = "mx." + d
            self.add(e, "CNAME", t)
            return {"mx_cname"}, ["mx"], None
        if kind == 2:
            self.add(e, "CNAME", "missing." + d)
            return {"mx_cname", "mx_nxdomain", "mx_all_unusable"}, [], None
        self.add("noaddr." + d, "TXT", "no address here")
        self.add(e, "CNAME", "noaddr." + d)
        return {"mx_cname", "mx_no_address", "mx_all_unusable"}, [], None

    def mx_dangling(self, d):
        kind = self.rng.randrange(3)
        if kind == 0:   # one dangling among three working
            exs = []
            for i, n in enumerate(("mx1", "mx2", "mx3")):
                e = "%s.%s" % (n, d)
                self.host(e, addrs=None)
                exs.append(e)
            addrs = set()
            for e in exs:   # ensure different address sets
                addrs.add(tuple(self.db.rr[e]["A"]))
            self.add(d, "MX", (10, exs[0]))
            self.add(d, "MX", (20, exs[1]))
            self.add(d, "MX", (30, exs[2]))
            self.add(d, "MX", (40, "old-mx." + d))
            return {"mx_nxdomain"}, ["mx"], None
        if kind == 1:
            e = "mail." + d
            self.host(e)
            self.add(d, "MX", (10, e))
            self.add(d, "MX", (20, "mx.%s" % self.gone_name()))
            return {"mx_nxdomain"}, ["mx"], None
        self.add(d, "MX", (10, "mail.%s" % self.gone_name()))
        return {"mx_nxdomain", "mx_all_unusable"}, [], None

    def mx_noaddr(self, d):
        e = "mail." + d
        self.add(e, "TXT", "v=spf1 -all")
        self.add(d, "MX", (10, e))
        if self.rng.random() < 0.5:
            e2 = "mx2." + d
            self.host(e2)
            self.add(d, "MX", (20, e2))
            return {"mx_no_address"}, ["mx"], None
        return {"mx_no_address", "mx_all_unusable"}, [], None

    def mx_lame(self, d):
        lame = "mx%d.lame%d.test" % (self.rng.randint(1, 3), self.rng.randint(1, 3))
        kind = self.rng.randrange(3)
        self.add(d, "MX", (10, lame))
        if kind == 0:
            return {"mx_lookup_failed"}, [], None
        if kind == 1:
            e = "mail." + d
            self.host(e)
            self.add(d, "MX", (20, e))
            return {"mx_lookup_failed"}, ["a:" + e], None
        self.add(d, "MX", (20, "mx.%s" % self.gone_name()))
        return {"mx_lookup_failed", "mx_nxdomain"}, [], None

    def mx_private(self, d):
        kind = self.rng.randrange(4)
        if kind == 0:   # all exchanges private
            for i in range(self.rng.randint(1, 3)):
                e = "mx%d.%s" % (i + 1, d)
                self.add(e, "A", self.priv())
                if self.rng.random() < 0.3:
                    self.add(e, "AAAA", self.priv6())
                self.add(d, "MX", (10 * (i + 1), e))
            return {"mx_private_address", "mx_all_unusable"}, [], None
        if kind == 1:   # IPv6-only private
            e = "mail." + d
            self.add(e, "AAAA", self.priv6())
            self.add(d, "MX", (10, e))
            return {"mx_private_address", "mx_all_unusable"}, [], None
        if kind == 2:   # one private, one public exchange
            e1, e2 = "mail." + d, "internal." + d
            self.host(e1)
            self.add(e2, "A", self.priv())
            self.add(d, "MX", (10, e1))
            self.add(d, "MX", (20, e2))
            return {"mx_private_address"}, ["mx"], None
        e = "mail." + d     # public A, private AAAA
        self.add(e, "A", self.pub4())
        self.add(e, "AAAA", self.priv6())
        self.add(d, "MX", (10, e))
        return {"mx_private_address"}, ["mx"], None

    def mx_dup(self, d):
        e = "mail." + d
        self.host(e)
        self.add(d, "MX", (10, e))
        self.add(d, "MX", (20, e))
        if self.rng.random() < 0.3:
            e2 = "mx2." + d
            self.host(e2)
            self.add(d, "MX", (30, e2))
        return {"mx_duplicate"}, ["mx"], None

    def mx_pref_equal(self, d):
        a = self.pub4s(3)
        for i in range(self.rng.randint(2, 3)):
            e = "mx%d.%s" % (i + 1, d)
            self.host(e, addrs=[a[i]])
            self.add(d, "MX", (10, e))
        return {"mx_pref_all_equal"}, ["mx"], None

    BACKUP = ["backup", "bak", "mx-backup", "backup-mx", "secondary", "fallback", "backup2",
              "bak1", "mail-fallback"]
    NONBACKUP = ["mx2", "mxbackup", "bakery", "backupmx", "secondarymx", "relay"]

    def mx_backup(self, d):
        a = self.pub4s(2)
        marker = self.rng.choice(self.BACKUP + self.NONBACKUP)
        e1, e2 = "%s.%s" % (marker, d), "mail." + d
        self.host(e1, addrs=[a[0]])
        self.host(e2, addrs=[a[1]])
        self.add(d, "MX", (5, e1))
        self.add(d, "MX", (10, e2))
        return ({"mx_backup_preferred"} if marker in self.BACKUP else set()), ["mx"], None

    def mx_same(self, d):
        n = self.rng.choice([1, 1, 2])
        addrs = self.pub4s(n)
        for i in range(self.rng.randint(2, 3)):
            e = "mx%d.%s" % (i + 1, d)
            for a in addrs:
                self.add(e, "A", a)
            self.add(d, "MX", (10 * (i + 1), e))
        return {"mx_same_addresses"}, ["mx"], None

    def mx_ttl(self, d):
        # in turn, so that every population (5 such domains at least) has
        # the boundary case once and four TTLs above it
        ttls = [86401, 86400, 172800, 604800, 86401]
        self.ttl_turn = getattr(self, "ttl_turn", -1) + 1
        ttl = ttls[self.ttl_turn % len(ttls)]
        e = "mail." + d
        self.host(e)
        self.add(d, "MX", (10, e), ttl=ttl)
        return ({"mx_ttl_high"} if ttl > 86400 else set()), ["mx"], None

    def mx_lame_domain(self, d):
        return {"domain_lookup_failed"}, None, None

    def mx_nx(self, d):
        return {"domain_nxdomain"}, None, None

    # migrations and gateways (fixed SPF)
    def mx_mig_g_ms(self, d):
        self.mx_google(d)
        return {"provider_mismatch"}, None, ["include:spf.protection.outlook.com", "-all"]

    def mx_mig_ms_g(self, d):
        self.mx_microsoft(d)
        return {"provider_mismatch"}, None, ["include:_spf.google.com", "~all"]

    def mx_mig_nested(self, d):
        self.mx_google(d)
        other = self.rng.choice(["spf.protection.outlook.com", "zoho.com", "_spf.mail.yahoo.com"])
        self.add("_spf." + d, "TXT", "v=spf1 include:%s -all" % other)
        return {"provider_mismatch"}, None, ["include:_spf." + d, "-all"]

    def mx_mig_nested_ok(self, d):
        self.mx_microsoft(d)
        self.add("_spf." + d, "TXT", "v=spf1 include:spf.protection.outlook.com "
                 "include:_spf.google.com -all")
        return set(), None, ["include:_spf." + d, "-all"]

    def mx_mig_both(self, d):
        self.mx_zoho(d)
        return set(), None, ["include:one.zoho.com", "include:spf.protection.outlook.com", "~all"]

    OTHER_MAILBOX_SPF = ["include:_spf.google.com", "include:zoho.com",
                         "include:_spf.mail.yahoo.com"]

    def mx_mig_gone(self, d):
        """MX left at the former provider, which has already removed the
        tenant (NXDOMAIN); SPF names only the new provider."""
        self.add(d, "MX", (0, d.replace(".", "-") + ".mail.protection.outlook.com"))
        return ({"mx_nxdomain", "mx_all_unusable", "provider_mismatch"}, None,
                [self.rng.choice(self.OTHER_MAILBOX_SPF), "~all"])

    def mx_mig_noaddr(self, d):
        """MX left at the former provider, whose name for the tenant is left
        without addresses."""
        t = d.replace(".", "-") + ".mail.protection.outlook.com"
        self.add(t, "TXT", "ms-domain-verification=%08x" % self.rng.getrandbits(32))
        self.add(d, "MX", (0, t))
        return ({"mx_no_address", "mx_all_unusable", "provider_mismatch"}, None,
                [self.rng.choice(self.OTHER_MAILBOX_SPF), "~all"])

    def mx_mig_mixed(self, d):
        """One provider plus the domain's own backup: the exchanges do not
        all belong to the provider, so no mismatch, usable backup or not."""
        self.mx_google1(d)
        b = self.rng.choice(["backup.", "mx2.", "fallback."]) + d
        self.add(d, "MX", (20, b))
        spf = ["include:spf.protection.outlook.com", "a:" + b, "-all"]
        if self.rng.random() < 0.5:
            self.host(b, v6=False)
            return set(), None, spf
        return {"mx_nxdomain"}, None, spf

    def mx_gateway(self, d):
        """A filtering gateway in front of a mailbox provider: no mismatch."""
        if self.rng.random() < 0.5:
            self.mx_proofpoint(d)
            spf = ["include:pphosted.com", "include:spf.protection.outlook.com", "-all"]
        else:
            self.mx_mimecast(d)
            spf = ["include:_netblocks.mimecast.com", "include:_spf.google.com", "-all"]
        return {"mx_pref_all_equal"}, None, spf


# scenario name -> (fraction of domains, minimum count, kind)
# kind: 'org' plants at d; 'sub' may be a www. subdomain
MX_SCENARIOS = [
    ("google", 0.20, 3), ("google1", 0.03, 2), ("microsoft", 0.16, 3), ("yahoo", 0.015, 2),
    ("zoho", 0.025, 2), ("proofpoint", 0.015, 2), ("mimecast", 0.015, 2),
    ("hostco", 0.14, 3), ("self", 0.06, 3), ("implicit", 0.05, 3), ("nomail", 0.03, 3),
    ("null", 0.02, 3), ("nx", 0.04, 3),
    ("self_uncovered", 0.006, 4), ("self_domain", 0.003, 3),
    ("null10", 0.0015, 3), ("null_mixed", 0.0015, 3),
    ("iplit4", 0.0015, 3), ("iplit_mixed", 0.0015, 3), ("iplit6", 0.0015, 3),
    ("invalid_hyphen", 0.0015, 3), ("underscore", 0.002, 3),
    ("origin", 0.003, 4), ("localhost", 0.003, 4), ("cname", 0.004, 5),
    ("dangling", 0.003, 4), ("noaddr", 0.002, 3), ("lame", 0.0024, 4),
    ("private", 0.004, 5), ("dup", 0.002, 3), ("pref_equal", 0.002, 3),
    ("backup", 0.004, 6), ("same", 0.002, 3), ("ttl", 0.003, 5),
    ("lame_domain", 0.0015, 3),
    ("mig_g_ms", 0.0015, 2), ("mig_ms_g", 0.0015, 2), ("mig_nested", 0.0015, 2),
    ("mig_nested_ok", 0.001, 1), ("mig_both", 0.001, 1), ("gateway", 0.002, 2),
    ("mig_gone", 0.0015, 2), ("mig_noaddr", 0.001, 2), ("mig_mixed", 0.0015, 3),
]
BULK = {"google", "google1", "microsoft", "yahoo", "zoho", "proofpoint", "mimecast",
        "hostco", "self", "implicit", "nomail", "null", "nx"}

SPF_SCENARIOS = [
    ("default", None, 0), ("missing", 0.10, 3), ("multiple", 0.003, 3), ("syntax", 0.003, 3),
    ("include_nospf", 0.002, 2), ("include_nx", 0.002, 2), ("include_lame", 0.0003, 0),
    ("chain", 0.002, 2), ("wide", 0.0015, 2), ("loop", 0.002, 2), ("selfloop", 0.001, 1),
    ("void3", 0.002, 3), ("void_inc", 0.0015, 2), ("pass_all", 0.003, 3),
    ("neutral", 0.01, 3), ("noall", 0.004, 3), ("redirect", 0.004, 2), ("redirect_nx", 0.0015, 2),
]
DMARC_SCENARIOS = [
    ("missing", None, 0), ("reject", 0.15, 3), ("quarantine", 0.08, 3), ("none", 0.20, 3),
    ("bad_p", 0.0015, 2), ("no_p", 0.0015, 2), ("not_first", 0.0015, 2), ("two", 0.0015, 2),
    ("bad_pct", 0.001, 1), ("bad_sp", 0.001, 1), ("foreign_txt", 0.003, 2),
]
SUB_FRACTION = 0.06
FIXED_SPF = {"null", "null10", "self_uncovered", "mig_g_ms", "mig_ms_g", "mig_nested",
             "mig_nested_ok", "mig_both", "gateway", "mig_gone", "mig_noaddr", "mig_mixed"}
NO_QUERY = {"nx", "lame_domain"}
NOT_SELF_HOSTED = {"google", "google1", "microsoft", "yahoo", "zoho", "proofpoint", "mimecast",
                   "hostco", "implicit", "nomail"}
DMARC_INVALID = {"bad_p", "no_p", "not_first", "two", "bad_pct", "bad_sp"}
SPF_BROKEN = {"missing", "multiple", "syntax", "include_nospf", "include_nx", "include_lame",
              "chain", "wide", "loop", "selfloop", "void3", "void_inc", "redirect_nx"}     # share of domains that are www.<org> subdomains


# Population profiles: multipliers on the scenario fractions above.
# "torture" stresses the scanner's engine rather than its classification:
# many names behind lame delegations (timeouts and SERVFAIL storms through
# a recursive resolver), shared and deep SPF include trees, include loops,
# CNAME and dangling exchanges; the bulk of the domains still share a few
# provider exchanges and include trees.
PROFILES = {
    "default": {},
    "torture": {
        "lame": 25, "lame_domain": 20, "iplit_mixed": 20, "underscore": 10, "self_domain": 5, "cname": 5, "dangling": 5, "dup": 5, "same": 5,
        "noaddr": 5, "include_lame": 50, "chain": 20, "loop": 20, "selfloop": 20,
        "wide": 20, "void_inc": 10, "void3": 5, "redirect": 5, "redirect_nx": 5,
    },
}
PROFILE = PROFILES["default"]


def allocate(rng, scenarios, n):
    """Deterministic count per scenario; the one with fraction None (or the
    bulk weights) takes the remainder. Returns a shuffled list of names."""
    out = []
    for name, frac, mn in scenarios:
        if frac is None:
            continue
        out += [name] * max(mn, int(round(frac * PROFILE.get(name, 1) * n)))
    rest = [s for s, f, _ in scenarios if f is None]
    while len(out) < n:
        out.append(rest[0])
    out = out[:n] if len(out) > n else out
    rng.shuffle(out)
    return out


def allocate_mx(rng, n):
    out = []
    bulk = [(s, f) for s, f, _ in MX_SCENARIOS if s in BULK]
    for s, f, mn in MX_SCENARIOS:
        if s not in BULK:
            out += [s] * max(mn, int(round(f * PROFILE.get(s, 1) * n)))
    m = n - len(out)
    tot = sum(f for _, f in bulk)
    for s, f in bulk:
        out += [s] * max(1, int(f / tot * m))
    while len(out) < n:
        out.append("google")
    while len(out) > n:      # trim bulk only
        out.remove("hostco")
    rng.shuffle(out)
    return out


class Generator:
    def __init__(self, size, seed, profile="default"):
        global PROFILE
        PROFILE = PROFILES[profile]
        self.profile = profile
        self.size = size
        self.seed = seed
        self.lab = Lab(seed)
        self.rng = random.Random("genlab-lines-%s" % seed)

    def plant_spf(self, d, scen, ctx, org):
        """SPF record(s) of d.  Faulty terms come before the domain's own
        mechanisms, so that RFC 7208's dynamic evaluation (which stops at
        the first match) meets the fault before any pass: the static and the
        dynamic reading then agree for spf_mx_not_covered."""
        lab, r, A = self.lab, self.rng, self.lab.add
        base = list(ctx or [])
        term = r.choice(["-all", "~all", "~all"])
        recs = None
        if r.random() < 0.1:
            A(d, "TXT", "google-site-verification=%08x" % r.getrandbits(32))
        if scen == "default":
            recs = [base + [term]]
        elif scen == "missing":
            recs = []
        elif scen == "multiple":
            # two records that can never be the same RR (pub4 may repeat)
            recs = [["ip4:" + lab.pub4(), "-all"], ["ip4:" + lab.pub4(), "~all"]]
        elif scen == "syntax":
            recs = [[r.choice(["ip4:198.51.100.300", "ipv4:198.51.100.7", "include:",
                               "ip4:203.0.113.0/33", "a:", "ip6:2001:db8:1::g",
                               "redirect=a.test redirect=b.test"]), "-all"]]
        elif scen == "include_nospf":
            recs = [["include:nospf%d.test" % r.randint(1, 3)] + base + [term]]
        elif scen == "include_nx":
            recs = [["include:" + lab.gone_name()] + base + [term]]
        elif scen == "include_lame":
            recs = [["include:spf.lame%d.test" % r.randint(1, 3)] + base + [term]]
        elif scen == "chain":
            recs = [["include:h1.spfchain.test"] + base + [term]]
        elif scen == "wide":
            recs = [["include:_spf.google.com", "include:spf.protection.outlook.com",
                     "include:zoho.com", "include:_spf.mail.yahoo.com",
                     "include:_netblocks.mimecast.com", "include:pphosted.com", "mx", "a", term]]
        elif scen == "loop":
            recs = [["include:loop-a.test"] + base + [term]]
        elif scen == "selfloop":
            recs = [["include:" + d] + base + [term]]
        elif scen == "void3":
            recs = [["a:" + lab.gone_name(d), "a:" + lab.gone_name(d),
                     "mx:" + lab.gone_name(d)] + base + [term]]
        elif scen == "void_inc":
            recs = [["include:" + lab.gone_name() for _ in range(3)] + base + [term]]
        elif scen == "pass_all":
            recs = [base + [r.choice(["+all", "all"])]]
        elif scen == "neutral":
            recs = [base + ["?all"]]
        elif scen == "noall":
            recs = [base or ["a"]]
        elif scen == "redirect":
            recs = [["redirect=spf." + r.choice(lab.hostcos)]]
        elif scen == "redirect_nx":
            recs = [["redirect=" + lab.gone_name()]]
        for rec in recs:
            A(d, "TXT", " ".join(["v=spf1"] + rec))

    def plant_dmarc(self, d, scen, org):
        """Plants at _dmarc.<d>, or for www.<org> subdomains mostly at the org."""
        lab, r, A = self.lab, self.rng, self.lab.add
        if scen == "missing":
            return
        target = d
        extra = ""
        if org != d and r.random() < 0.75:
            target = org
            if scen in ("reject", "quarantine", "none") and r.random() < 0.5:
                extra = "; sp=" + r.choice(["none", "quarantine", "reject"])
        rua = "; rua=mailto:dmarc@" + target
        n = "_dmarc." + target
        if scen in ("reject", "quarantine", "none"):
            A(n, "TXT", "v=DMARC1; p=%s%s%s" % (scen, extra, rua))
        elif scen == "bad_p":
            A(n, "TXT", "v=DMARC1; p=%s%s" % (r.choice(["block", "deny", "reject-all"]), rua))
        elif scen == "no_p":
            A(n, "TXT", "v=DMARC1%s" % rua)
        elif scen == "not_first":
            A(n, "TXT", "p=reject; v=DMARC1%s" % rua)
        elif scen == "two":
            A(n, "TXT", "v=DMARC1; p=reject%s" % rua)
            A(n, "TXT", "v=DMARC1; p=quarantine")
        elif scen == "bad_pct":
            A(n, "TXT", "v=DMARC1; p=quarantine; pct=%s" % r.choice(["150", "abc"]))
        elif scen == "bad_sp":
            A(n, "TXT", "v=DMARC1; p=reject; sp=maybe")
        elif scen == "foreign_txt":
            A("_dmarc." + d, "TXT", "google-site-verification=x%d" % r.randint(1, 999))
            if org != d:
                A("_dmarc." + org, "TXT", "v=DMARC1; p=reject%s" % rua)

    def run(self):
        lab, r = self.lab, self.rng
        n = self.size
        n_invalid = max(10, int(n * 0.003))
        n_variant = max(6, int(n * 0.005))
        n_idn = max(3, int(n * 0.002))
        n_dom = n - n_invalid - n_variant
        mx_list = allocate_mx(r, n_dom)
        # SPF and DMARC scenarios go only to domains that get them planted
        spf_list = ["-"] * n_dom
        dmarc_list = ["-"] * n_dom
        e_spf = [i for i in range(n_dom) if mx_list[i] not in FIXED_SPF | NO_QUERY]
        e_dm = [i for i in range(n_dom) if mx_list[i] not in NO_QUERY]
        for i, s in zip(e_spf, allocate(r, SPF_SCENARIOS, len(e_spf))):
            spf_list[i] = s
        for i, s in zip(e_dm, allocate(r, DMARC_SCENARIOS, len(e_dm))):
            dmarc_list[i] = s
        # an invalid DMARC record next to a missing/broken SPF record leaves
        # dmarc_enforced_without_spf open to reading: swap such SPF scenarios
        # with a clean one elsewhere (counts stay as allocated)
        clean = [i for i in e_spf if spf_list[i] == "default" and dmarc_list[i] not in DMARC_INVALID]
        for i in e_dm:
            if dmarc_list[i] in DMARC_INVALID and (spf_list[i] in SPF_BROKEN
                                                  or mx_list[i] in FIXED_SPF):
                if mx_list[i] in FIXED_SPF:
                    continue     # fixed SPF records are clean
                j = clean.pop()
                spf_list[i], spf_list[j] = spf_list[j], spf_list[i]
        domains = []       # (line, domain, mx, spf, dmarc, must)
        idn_left = n_idn
        for i in range(n_dom):
            mxs, spfs, dms = mx_list[i], spf_list[i], dmarc_list[i]
            base = lab.new_name()
            line = None
            if mxs == "lame_domain":
                base = "%s.lame%d.test" % (base.split(".")[0], r.randint(1, 3))
            elif mxs not in ("nx",) and idn_left > 0 and mxs in BULK:
                idn_left -= 1
                word = r.choice(["bücher", "müller", "café", "grön", "niño", "smörgås"])
                line = "%s-%d.test" % (word, lab.counter)
                base = ".".join(idna_label(l) for l in line.split("."))
            org = base
            if (mxs not in ("nx", "lame_domain") and line is None
                    and r.random() < SUB_FRACTION):
                base = "www." + base
            d = base
            if spfs == "include_lame" and mxs not in NOT_SELF_HOSTED:
                spfs = "include_nx"    # temperror for a self-hosted address: open reading
            must, ctx, fixed = getattr(lab, "mx_" + mxs)(d)
            if mxs not in ("nx", "lame_domain"):
                if fixed is not None:
                    lab.add(d, "TXT", " ".join(["v=spf1"] + fixed))
                    spfs = "fixed"
                else:
                    self.plant_spf(d, spfs, ctx, org)
                self.plant_dmarc(d, dms, org)
            else:
                spfs = dms = "-"
            domains.append([line or d, d, mxs, spfs, dms, must])
        lab.db.finish()
        model = Model(lab.db)
        model.res.log = {}
        truth = {}
        recursive_only = set()
        for rec in domains:
            line, d, mxs, spfs, dms, must = rec
            st, mail, codes, notes = model.evaluate(d)
            if notes["ambiguous"]:
                raise SystemExit("genlab: ambiguous planting for %s (%s/%s/%s): %s"
                                 % (d, mxs, spfs, dms, notes["ambiguous"]))
            if not must <= codes:
                raise SystemExit("genlab: model disagrees with scenario for %s (%s/%s/%s): "
                                 "must %s, model %s" % (d, mxs, spfs, dms, sorted(must), sorted(codes)))
            truth[d] = (st, mail, codes)
            if mxs in ("lame", "lame_domain") or spfs == "include_lame":
                recursive_only.add(d)
        # ---- lines: domains, variants, invalid
        lines = [(rec[0], rec[1], rec[2], rec[3], rec[4]) for rec in domains]
        served = [rec for rec in domains if rec[2] != "nx" and rec[0] == rec[1]]
        for i in range(n_variant):
            rec = served[r.randrange(len(served))]
            kind = i % 4
            if kind == 0:
                v = rec[1].upper()
            elif kind == 1:
                v = rec[1] + "."
            elif kind == 2:
                v = "".join(c.upper() if r.random() < 0.5 else c for c in rec[1]) + "."
            else:
                v = "  " + rec[1]
            lines.append((v, rec[1], rec[2], rec[3], rec[4]))
        long_label = "a" * 64
        invalid = ["bad_name.test", "-x.test", "x-.test", long_label + ".test", "a..b.test",
                   ".".join(["b" * 63] * 4) + ".test", "☃-%d.test" % r.randint(1, 999),
                   "white space.test", "shop!.test", "dots.test..", "*.test", "under_score%d.test"]
        for i in range(n_invalid):
            if i < len(invalid):
                v = invalid[i]
            else:
                k = r.randrange(5)
                w = r.choice(WORDS)
                v = ["%s_%d.test", "-%s%d.test", "%s%d-.test", "%s..%d.test", "%s%d.te_st"][k] % (w, i)
            lines.append((v, None, "invalid", "-", "-"))
        r.shuffle(lines)
        self.lines = lines
        self.truth = truth
        self.recursive_only = recursive_only
        self.qlog = model.res.log
        return self

    def write(self, out, env):
        os.makedirs(os.path.join(out, "zones"), exist_ok=True)
        rows = []
        with open(os.path.join(out, "names.txt"), "w", encoding="utf-8") as f:
            for v, d, *_ in self.lines:
                f.write(v + "\n")
        counts = {c: 0 for c in CODES}
        with open(os.path.join(out, "truth.csv"), "w", encoding="utf-8", newline="") as f, \
                open(os.path.join(out, "scenarios.csv"), "w", encoding="utf-8", newline="") as g:
            w = csv.writer(f, lineterminator="\n")
            ws = csv.writer(g, lineterminator="\n")
            w.writerow(["domain", "status", "mail_status", "findings"])
            ws.writerow(["line", "domain", "mx", "spf", "dmarc"])
            for v, d, mxs, spfs, dms in self.lines:
                nd, valid = normalise_input(v)
                if d is None:
                    assert not valid, v
                    row = [nd, "INVALID", "invalid", "domain_invalid_name"]
                    counts["domain_invalid_name"] += 1
                else:
                    assert valid and nd == d, (v, nd, d)
                    st, mail, codes = self.truth[d]
                    for c in codes:
                        counts[c] += 1
                    row = [d, st, mail, ";".join(sorted(codes, key=CODE_ORDER.get))]
                w.writerow(row)
                ws.writerow([v, row[0], mxs, spfs, dms])
        with open(os.path.join(out, "queries.jsonl"), "w") as f:
            for (name, rtype), a in sorted(self.qlog.items()):
                rrs = ["%d %s" % x if rtype == "MX" else x for x in a.rrs]
                f.write(json.dumps({"name": name, "type": rtype, "rcode": a.rcode,
                                    "cname": a.cname, "ttl": a.ttl, "rrs": sorted(rrs)}) + "\n")
        with open(os.path.join(out, "recursive-only.txt"), "w") as f:
            for d in sorted(self.recursive_only):
                f.write(d + "\n")
        self.write_zones(os.path.join(out, "zones"))
        write_env(out, env)
        with open(os.path.join(out, "population.json"), "w") as f:
            json.dump({"size": self.size, "seed": self.seed, "version": GEN_VERSION,
                       "profile": self.profile,
                       "counts": counts}, f, indent=1, sort_keys=True)
        return counts

    def write_zones(self, zdir):
        db = self.lab.db
        byzone = {z: [] for z in ZONES}
        for name in sorted(db.rr):
            byzone[zone_of(name)].append(name)
        conf = []
        for z in ZONES:
            fn = (z or "root") + ".zone"
            origin = fq(z) if z else "."
            with open(os.path.join(zdir, fn), "w", encoding="ascii") as f:
                f.write("$TTL 3600\n")
                f.write("%s IN SOA ns1.lab.invalid. hostmaster.lab.invalid. 1 3600 600 86400 300\n" % origin)
                f.write("%s IN NS ns1.lab.invalid.\n" % origin)
                for name in byzone[z]:
                    owner = fq(name) if name else "."
                    for rtype, rdatas in db.rr[name].items():
                        ttl = db.ttl[(name, rtype)]
                        for rd in rdatas:
                            if rtype == "MX":
                                txt = "%d %s" % (rd[0], fq(rd[1]) if rd[1] else ".")
                            elif rtype == "TXT":
                                txt = '"%s"' % rd.replace("\\", "\\\\").replace('"', '\\"')
                            elif rtype in ("CNAME", "NS"):
                                txt = fq(rd)
                            else:
                                txt = rd
                            f.write("%s %d IN %s %s\n" % (owner, ttl, rtype, txt))
            conf.append((origin, fn))
        with open(os.path.join(zdir, "zones.list"), "w") as f:
            for origin, fn in conf:
                f.write("%s %s\n" % (origin, fn))


def write_env(out, env):
    out = os.path.abspath(out)
    v = {
        "LAB_DIR": out,
        "LAB_NSD_ADDR": env.get("nsd_addr", "127.0.0.53"),
        "LAB_NSD_PORT": str(env.get("nsd_port", 5300)),
        "LAB_UNBOUND_ADDR": env.get("unbound_addr", "127.0.0.54"),
        "LAB_UNBOUND_PORT": str(env.get("unbound_port", 5301)),
        "LAB_ALLOW": ALLOW,
        "LAB_NAMES": os.path.join(out, "names.txt"),
        "LAB_TRUTH": os.path.join(out, "truth.csv"),
        "LAB_RECURSIVE_ONLY": os.path.join(out, "recursive-only.txt"),
        "LAB_RRL": str(env.get("rrl", 0)),
    }
    v["LAB_NSD"] = "%s:%s" % (v["LAB_NSD_ADDR"], v["LAB_NSD_PORT"])
    v["LAB_RESOLVER"] = "%s:%s" % (v["LAB_UNBOUND_ADDR"], v["LAB_UNBOUND_PORT"])
    with open(os.path.join(out, "lab.env"), "w") as f:
        for k in ("LAB_DIR", "LAB_NSD_ADDR", "LAB_NSD_PORT", "LAB_NSD", "LAB_UNBOUND_ADDR",
                  "LAB_UNBOUND_PORT", "LAB_RESOLVER", "LAB_ALLOW", "LAB_NAMES", "LAB_TRUTH",
                  "LAB_RECURSIVE_ONLY", "LAB_RRL"):
            f.write("%s='%s'\n" % (k, v[k]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nsd-addr", default="127.0.0.53")
    ap.add_argument("--nsd-port", type=int, default=5300)
    ap.add_argument("--unbound-addr", default="127.0.0.54")
    ap.add_argument("--unbound-port", type=int, default=5301)
    ap.add_argument("--counts", action="store_true", help="print code counts")
    ap.add_argument("--env-only", action="store_true", help="only (re)write DIR/lab.env")
    ap.add_argument("--rrl", type=int, default=0)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default",
                    help="scenario mix: default, or torture (stresses the engine)")
    a = ap.parse_args(argv)
    env = {"nsd_addr": a.nsd_addr, "nsd_port": a.nsd_port, "unbound_addr": a.unbound_addr,
           "unbound_port": a.unbound_port, "rrl": a.rrl}
    if a.env_only:
        write_env(a.out, env)
        return 0
    if a.size < 200:
        ap.error("--size must be at least 200")
    g = Generator(a.size, a.seed, a.profile).run()
    counts = g.write(a.out, env)
    if a.counts:
        for c in CODES:
            print("%-28s %d" % (c, counts[c]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

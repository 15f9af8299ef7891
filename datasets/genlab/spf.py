"""Reference model, SPF (RFC 7208): record selection, the parser for the
subset the lab plants, the static tree walk of SPEC "SPF limits are static",
and check_host (dynamic, stops at the first match) for spf_mx_not_covered."""
import ipaddress


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

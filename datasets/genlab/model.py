"""Reference model: a domain's row (status, mail status, findings) computed
from the planted records alone, following SPEC.md literally. Its answers
come from dns.Resolver, which logs every question (queries.jsonl)."""
import ipaddress

from mxcodes import SEVERITY

from .dmarc import dmarc_judge
from .dns import Resolver
from .names import host_valid, is_ipv4_literal, is_ipv6_literal, org_domain
from .spf import SpfSyntax, SpfTree, check_host, spf_parse, spf_records
from .world import ALLOW_NETS, INCLUDE_PROVIDER, PROVIDERS


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

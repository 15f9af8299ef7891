"""Scenarios: the records planted for each domain. Lab holds the shared
infrastructure (providers, hosting companies, SPF chains and loops, lame
delegations) and one mx_<scenario> method per MX scenario, which plants the
domain's MX set and returns (codes it must produce, SPF mechanisms that fit
it, or a fixed SPF record); plant_spf and plant_dmarc plant the SPF and DMARC
scenarios. Nothing here judges: the reference model (model.py) does."""
import random

from .dns import DB
from .names import org_domain
from .world import LAME_ADDR


WORDS = ("acme alpha bistro cargo delta ember fjord garden harbor indigo jade "
         "kite lumen maple nova orbit pixel quartz river summit tundra umbra "
         "vertex willow xenon yonder zephyr atlas bramble cedar dune echo "
         "falcon glade heron iris juniper kestrel lotus meadow nimbus oasis "
         "prism quill raven sierra thistle unity velvet wren yarrow zenith "
         "shop bakery clinic studio works labs media law farm").split()


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

    def hosted_mx(self, d, pref, e):
        """An exchange e with addresses (host) and the MX record d -> e."""
        self.host(e)
        self.add(d, "MX", (pref, e))

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
        self.hosted_mx(d, 10, e1)
        exs = [e1]
        if self.rng.random() < 0.4:
            e2 = "mx2." + d
            self.hosted_mx(d, 20, e2)
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
        self.hosted_mx(d, 10, d)
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
        self.hosted_mx(d, 10, e)
        return {"mx_target_invalid"}, ["mx"], None

    def mx_origin(self, d):
        o = d if self.rng.random() < 0.6 else org_domain(d)
        e = "mail.%s.%s" % (o, o)
        if self.rng.random() < 0.4:
            self.hosted_mx(d, 10, e)
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
            self.hosted_mx(d, 10, e)
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
            self.hosted_mx(d, 20, e2)
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
            self.hosted_mx(d, 20, e)
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
        self.hosted_mx(d, 10, e)
        self.add(d, "MX", (20, e))
        if self.rng.random() < 0.3:
            e2 = "mx2." + d
            self.hosted_mx(d, 30, e2)
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


def plant_spf(lab, r, d, scen, ctx, org):
    """SPF record(s) of d.  Faulty terms come before the domain's own
    mechanisms, so that RFC 7208's dynamic evaluation (which stops at
    the first match) meets the fault before any pass: the static and the
    dynamic reading then agree for spf_mx_not_covered."""
    A = lab.add
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

def plant_dmarc(lab, r, d, scen, org):
    """Plants at _dmarc.<d>, or for www.<org> subdomains mostly at the org."""
    A = lab.add
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

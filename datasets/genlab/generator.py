"""The population: allocates scenarios to domains, plants their records,
runs the reference model over every domain (and stops where it disagrees
with a scenario or meets an open reading), then makes the input lines:
domains, case/dot/space variants, IDN names and invalid names, shuffled."""
import random

from .model import Model
from .names import idna_label
from .profiles import (BULK, DMARC_INVALID, DMARC_SCENARIOS, FIXED_SPF, NO_QUERY, NOT_SELF_HOSTED,
                       PROFILES, SPF_BROKEN, SPF_SCENARIOS, SUB_FRACTION, allocate, allocate_mx)
from .scenarios import WORDS, Lab, plant_dmarc, plant_spf


class Generator:
    def __init__(self, size, seed, profile="default"):
        self.weights = PROFILES[profile]
        self.profile = profile
        self.size = size
        self.seed = seed
        self.lab = Lab(seed)
        self.rng = random.Random("genlab-lines-%s" % seed)

    def run(self):
        lab, r = self.lab, self.rng
        n = self.size
        n_invalid = max(10, int(n * 0.003))
        n_variant = max(6, int(n * 0.005))
        n_idn = max(3, int(n * 0.002))
        n_dom = n - n_invalid - n_variant
        mx_list = allocate_mx(r, n_dom, self.weights)
        # SPF and DMARC scenarios go only to domains that get them planted
        spf_list = ["-"] * n_dom
        dmarc_list = ["-"] * n_dom
        e_spf = [i for i in range(n_dom) if mx_list[i] not in FIXED_SPF | NO_QUERY]
        e_dm = [i for i in range(n_dom) if mx_list[i] not in NO_QUERY]
        for i, s in zip(e_spf, allocate(r, SPF_SCENARIOS, len(e_spf), self.weights)):
            spf_list[i] = s
        for i, s in zip(e_dm, allocate(r, DMARC_SCENARIOS, len(e_dm), self.weights)):
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
                    plant_spf(lab, r, d, spfs, ctx, org)
                plant_dmarc(lab, r, d, dms, org)
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

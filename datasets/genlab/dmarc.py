"""Reference model, DMARC (RFC 7489): record selection at the domain, then at
the organizational domain; tag validation; the policy judged."""
from .names import org_domain


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

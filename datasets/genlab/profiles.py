"""Profiles: the scenario mix. Each scenario table gives a scenario's share of
the domains and its minimum count; a profile multiplies shares; allocate()
turns them into a deterministic, shuffled list of scenario names."""


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


def allocate(rng, scenarios, n, weights):
    """Deterministic count per scenario; the one with fraction None (or the
    bulk weights) takes the remainder. Returns a shuffled list of names."""
    out = []
    for name, frac, mn in scenarios:
        if frac is None:
            continue
        out += [name] * max(mn, int(round(frac * weights.get(name, 1) * n)))
    rest = [s for s, f, _ in scenarios if f is None]
    while len(out) < n:
        out.append(rest[0])
    out = out[:n] if len(out) > n else out
    rng.shuffle(out)
    return out


def allocate_mx(rng, n, weights):
    out = []
    bulk = [(s, f) for s, f, _ in MX_SCENARIOS if s in BULK]
    for s, f, mn in MX_SCENARIOS:
        if s not in BULK:
            out += [s] * max(mn, int(round(f * weights.get(s, 1) * n)))
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

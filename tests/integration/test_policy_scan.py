#!/usr/bin/env python3
"""`mxscan scan --checks ...,mta-sts,dane[,smtp]` against the policy lab
(scripts/lab.d/policy-lab: signed zones on NSD, a validating Unbound, nginx
serving MTA-STS policies, Postfix instances whose certificates TLSA records
match or not), every case compared with the lab's ground truth
(DIR/truth.json) and with what the lab publishes (DIR/published.json):

  * every mta_sts_*, tlsrpt_* and dane_* finding of every row, both ways
    (none missing, none extra), with the probe and without it (then
    mta_sts_tls_fails and dane_tlsa_mismatch cannot be judged);
  * every policy column: mta_sts_mode, _record, _id, _fetch, _policy,
    _max_age, _mx, tlsrpt, tlsrpt_rua, dane, dane_match;
  * the statistics: findings per code and mta_sts_mode per state equal the
    counts of the rows; the statistics JSON valid against its schema;
  * one policy fetch per policy host per scan (nginx's log; a domain given
    twice is fetched once; certificate failures end before a request);
  * JSON Lines of the same scan: every row valid against
    datasets/schema/row.schema.json, its policy columns those of the CSV;
  * `mxscan check` explains findings with their RFC section.
Exit 77 (skip) only when a package cannot be installed or run (the lab's
own exit 3, or no jsonschema module).

Usage: test_policy_scan.py --mxscan PATH --source DIR --workdir DIR [--net 127.0.32]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mxtest  # noqa: E402

FAILS = []
POLICY_COLUMNS = ["mta_sts_mode", "mta_sts_record", "mta_sts_id", "mta_sts_fetch",
                  "mta_sts_policy", "mta_sts_max_age", "mta_sts_mx", "tlsrpt", "tlsrpt_rua",
                  "dane", "dane_match"]
POLICY_PREFIXES = ("mta_sts_", "tlsrpt_", "dane_")
# judged only with the SMTP probe (SPEC section 2)
PROBE_CODES = {"mta_sts_tls_fails", "dane_tlsa_mismatch"}
STS_STATES = ["absent", "none", "testing", "enforce", "invalid", "unknown"]


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


def jsonschema_module():
    """The jsonschema module, installed from Debian when missing (root);
    None when it cannot be had."""
    try:
        import jsonschema
        return jsonschema
    except ImportError:
        pass
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-jsonschema"],
                       capture_output=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    try:
        import jsonschema
        return jsonschema
    except ImportError:
        return None


# ---- what the lab publishes, read the way RFC 8461/8460/7672 say ----------

def tag(record, name):
    m = re.search(r"(?:^|;)\s*%s=([^;\s]+)" % name, record)
    return m.group(1) if m else ""


def policy_fields(body):
    """max_age and the mx patterns (';') of a policy text."""
    age, mx = "", []
    for line in body.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == "max_age":
            age = v.strip()
        elif k.strip() == "mx":
            mx.append(v.strip())
    return age, ";".join(mx)


def tlsa_usable(rec):
    """RFC 7672 3.1: DANE-TA(2)/DANE-EE(3), selector 0/1, matching type 0
    (full), 1 (SHA-256, 32 octets) or 2 (SHA-512, 64 octets)."""
    u, s, m, data = rec.split()
    lengths = {1: 32, 2: 64}
    return (int(u) in (2, 3) and int(s) in (0, 1) and int(m) in (0, 1, 2)
            and (int(m) == 0 or len(data) == 2 * lengths[int(m)]))


def exchanges_in_order(row):
    seen, out = set(), []
    for e in row["mx"].split(";"):
        ex = e.split(" ", 1)[1].rstrip(".") if e else ""
        if ex and ex not in seen:
            seen.add(ex)
            out.append(ex)
    return out


def expected(domain, truth, pub, row, probe):
    """The policy columns and findings this row must have."""
    t, p, hosts = truth[domain], pub["domains"][domain], pub["hosts"]
    codes = [c for c in t["findings"] if probe or c not in PROBE_CODES]
    mode = t.get("sts_mode") or ("invalid" if "mta_sts_invalid" in codes else "absent")
    record = t.get("sts_record", "none")
    check(bool(p["sts"]) == (record != "none"), "%s: the lab's record and truth agree" % domain)
    fetch = t.get("sts_fetch", "-")
    valid = mode in ("none", "testing", "enforce")
    age, mx = policy_fields(p["policy"]) if valid else ("", "")
    rpt = t.get("tlsrpt") or ("ok" if p["rpt"] else "none")
    want = {
        "findings": sorted(codes, key=mxtest.CODE_ORDER.__getitem__),
        "mta_sts_mode": mode,
        "mta_sts_record": "" if record == "none" else record,
        "mta_sts_id": tag(p["sts"][0], "id") if record == "ok" else "",
        "mta_sts_fetch": "" if fetch == "-" else fetch,
        "mta_sts_policy": t.get("sts_policy", "") if fetch == "ok" else "",
        "mta_sts_max_age": age,
        "mta_sts_mx": mx,
        "tlsrpt": rpt,
        "tlsrpt_rua": tag(p["rpt"][0], "rua") if len(p["rpt"]) == 1 else "",
    }
    # DANE, per exchange in the row's MX order: the TLSA owner the truth
    # names (the CNAME target's when RFC 7672 2.2.2 says so)
    owners = {x["owner"]: x for x in t.get("exchanges", [])}
    dane, match = [], []
    for ex in exchanges_in_order(row):
        h = hosts[ex]
        base = ex
        if h["cname"] and "_25._tcp." + h["cname"] in owners:
            base = h["cname"]
        x = owners.get("_25._tcp." + base)
        if x is None:
            check(not hosts[base]["tlsa"], "%s: %s publishes TLSA the truth does not list"
                  % (domain, base))
            x = {"dane": "none", "match": "not_checked"}
        text = ex + (">" + base if base != ex else "") + "=" + x["dane"]
        recs = hosts[base]["tlsa"]
        if x["dane"] in ("usable", "unusable", "unsigned"):
            usable = sum(tlsa_usable(r) for r in recs)
            check((usable > 0) == (x["dane"] != "unusable"),
                  "%s: usable TLSA count %d and state %s" % (domain, usable, x["dane"]))
            text += ":%d/%d" % (usable, len(recs))
        dane.append(text)
        if probe and x["match"] != "not_checked":
            addr = hosts[h["cname"]]["address"] if h["cname"] else h["address"]
            match.append("%s@%s=%s" % (ex, addr, x["match"]))
    want["dane"] = ";".join(dane)
    want["dane_match"] = ";".join(match)
    return want


# Columns whose detail after ':' the truth does not give (the reason of a
# certificate failure, an HTTP status, a policy line, mismatch:chain|name).
DETAIL = {"mta_sts_fetch", "mta_sts_policy", "dane_match"}


def strip_detail(col, text):
    if col not in DETAIL:
        return text
    if col == "dane_match":
        return ";".join(e.split(":")[0] for e in text.split(";")) if text else ""
    return text.split(":")[0]


def compare(rows, truth, pub, probe, what):
    by = {}
    for r in rows:
        by.setdefault(r["domain"], r)
    check(set(by) == set(truth), "%s: domains %s" % (what, sorted(set(by) ^ set(truth))))
    n = 0
    for d in sorted(truth):
        r = by.get(d)
        if r is None:
            continue
        w = expected(d, truth, pub, r, probe)
        got = [c for c in mxtest.finding_list(r) if c.startswith(POLICY_PREFIXES)]
        check(got == w["findings"], "%s %s: policy findings %s, want %s"
              % (what, d, got, w["findings"]))
        for col in POLICY_COLUMNS:
            g = strip_detail(col, r[col])
            check(g == w[col], "%s %s: %s %r (%r), want %r" % (what, d, col, g, r[col], w[col]))
        n += 1
    return n


# ---- statistics -----------------------------------------------------------

def check_stats(stats, rows, schema, jsonschema, what):
    if schema is not None:
        errs = sorted(jsonschema.Draft202012Validator(schema).iter_errors(stats),
                      key=lambda e: list(e.path))
        check(not errs, "%s: statistics against the schema: %s" % (what, errs[:3]))
    count = collections.Counter(c for r in rows for c in mxtest.finding_list(r))
    for code in mxtest.FINDING_CODES:
        check(stats["findings"][code] == count[code], "%s: stats findings %s = %d, rows %d"
              % (what, code, stats["findings"][code], count[code]))
    modes = collections.Counter(r["mta_sts_mode"] for r in rows)
    for s in STS_STATES:
        check(stats["mta_sts_mode"][s] == modes[s], "%s: stats mta_sts_mode %s = %d, rows %d"
              % (what, s, stats["mta_sts_mode"][s], modes[s]))
    check(sum(modes.values()) == len(rows) and "" not in modes,
          "%s: every row has a mode: %s" % (what, dict(modes)))


# ---- the policy host fetches (nginx's log) --------------------------------

def check_fetches(log_lines, truth, what):
    """One GET per policy host whose fetch reaches HTTP; none for the
    certificate failures (the TLS handshake ends first) and none else."""
    hosts = collections.Counter(l.split()[1] for l in log_lines)
    want = {"mta-sts." + d for d, t in truth.items()
            if t.get("sts_fetch", "-") not in ("-", "cert_invalid")}
    check(set(hosts) == want, "%s: hosts fetched %s, want %s"
          % (what, sorted(set(hosts) ^ want), "symmetric difference empty"))
    check(all(n == 1 for n in hosts.values()),
          "%s: more than one fetch of %s" % (what, [h for h, n in hosts.items() if n > 1]))
    check(all(l.startswith("127.") for l in log_lines), "%s: nginx clients on loopback" % what)
    check(not any(" www." in l for l in log_lines), "%s: a redirect was followed" % what)
    return sum(hosts.values())


# ---- mxscan check ---------------------------------------------------------

RFC_OF = {"mta_sts_": "RFC 8461", "tlsrpt_": "RFC 8460", "dane_": "RFC 7672"}


def check_explanations(opts, truth, probe_rows):
    """`mxscan check` on a few cases: each policy finding of the scan is
    listed, explained with its RFC and a section, and has a 'here:' line."""
    picks = []
    for code in ("mta_sts_mx_mismatch", "mta_sts_tls_fails", "mta_sts_invalid", "tlsrpt_invalid",
                 "dane_tlsa_mismatch", "dane_tlsa_invalid", "dane_partial"):
        for d in sorted(truth):
            if code in truth[d]["findings"] and d not in picks:
                picks.append(d)
                break
    res = mxtest.run(["check", "--color", "never"] + opts + picks, timeout=180)
    out = res.stdout.decode("utf-8", "replace")
    # 4: an error finding was seen (every pick has one)
    check(res.rc == 4, "mxscan check exited %d, want 4: %s" % (res.rc, res.stderr[-500:]))
    blocks = re.split(r"\n(?=\S)", out)
    explained = 0
    for d in picks:
        block = next((b for b in blocks if b.startswith(d + "\n")), "")
        check(block, "mxscan check: no section for %s" % d)
        want = [c for c in mxtest.finding_list(probe_rows[d]) if c.startswith(POLICY_PREFIXES)]
        for code in want:
            m = re.search(r"\n\s+(error|warn|info)\s+%s\n(.*?)(?=\n\s+(?:error|warn|info)\s|\Z)"
                          % code, block, re.S)
            if not check(m, "mxscan check %s: %s not listed" % (d, code)):
                continue
            rfc = next(v for k, v in RFC_OF.items() if code.startswith(k))
            check(re.search(r"%s sections? \d" % rfc, m.group(2)),
                  "mxscan check %s: %s does not name its %s section: %r" % (d, code, rfc, m.group(2)))
            # what was found where (tlsrpt_missing: there is nothing to point at)
            check(code == "tlsrpt_missing" or "here:" in m.group(2),
                  "mxscan check %s: %s has no 'here:' line" % (d, code))
            explained += 1
    return explained


# ---- the runs ---------------------------------------------------------------

def scan(opts, checks, out, names, extra=()):
    res = mxtest.run(["scan", "-q", "--checks", checks, "-o", out, "--stats", out + ".stats.json"]
                     + opts + list(extra) + [names], timeout=300)
    check(res.rc == 0, "scan --checks %s exited %d: %s" % (checks, res.rc, res.stderr[-800:]))
    return res


def log_since(path, start):
    with open(path) as f:
        lines = f.read().splitlines()
    return lines[start:], len(lines)


def run_all(a, env, work):
    truth = json.load(open(env["POLICY_TRUTH"]))
    pub = json.load(open(env["POLICY_PUBLISHED"]))
    names = [l.strip() for l in open(env["POLICY_NAMES"]) if l.strip()]
    jsonschema = jsonschema_module()
    if jsonschema is None:
        print("SKIP: python3-jsonschema cannot be installed")
        return 77
    schema_dir = os.path.join(a.source, "datasets", "schema")
    row_schema = json.load(open(os.path.join(schema_dir, "row.schema.json")))
    stats_schema = json.load(open(os.path.join(schema_dir, "stats.schema.json")))
    # every case, then one again: its policy host must not be fetched twice
    inp = os.path.join(work, "names.txt")
    with open(inp, "w") as f:
        f.write("".join(n + "\n" for n in names + [names[0]]))
    opts = ["-r", env["POLICY_RESOLVER"], "--allow-address", env["POLICY_ALLOW"],
            "--sts-port", env["POLICY_HTTPS_PORT"], "--sts-ca-file", env["POLICY_HTTPS_CA"],
            "--smtp-ca-file", env["POLICY_SMTP_CA"], "--smtp-ehlo", "scanner.lab.test",
            "--smtp-timeout", "10000", "--sts-timeout", "10000"]
    log = os.path.join(a.workdir, "nginx", "access.log")
    _, mark = log_since(log, 0)
    probe_rows = {}
    for checks, probe in (("mx,spf,dmarc,mta-sts,dane,smtp", True),
                          ("mx,spf,dmarc,mta-sts,dane", False)):
        what = "with the probe" if probe else "without the probe"
        out = os.path.join(work, "probe.csv" if probe else "noprobe.csv")
        scan(opts, checks, out, inp)
        fetched, mark = log_since(log, mark)
        n = check_fetches(fetched, truth, what)
        print("%s: %d policy fetches for %d lines" % (what, n, len(names) + 1))
        _, rows = mxtest.read_csv(out)
        check(len(rows) == len(names) + 1, "%s: %d rows" % (what, len(rows)))
        print("%s: %d cases compared" % (what, compare(rows, truth, pub, probe, what)))
        check(all(rows[-1][c] == rows[0][c] for c in POLICY_COLUMNS + ["findings"]),
              "%s: the repeated domain has the same policy columns" % what)
        check_stats(mxtest.load_stats(out + ".stats.json"), rows, stats_schema, jsonschema, what)
        if probe:
            probe_rows = {r["domain"]: r for r in rows}
    # JSON Lines of the scan with the probe
    out = os.path.join(work, "probe.jsonl")
    scan(opts, "mx,spf,dmarc,mta-sts,dane,smtp", out, inp, ["--format", "jsonl"])
    log_since(log, mark)
    objs = mxtest.read_jsonl(out)
    check(len(objs) == len(names) + 1, "jsonl: %d rows" % len(objs))
    check(row_schema["properties"]["findings"]["items"]["enum"] == list(mxtest.FINDING_CODES),
          "row.schema.json: the findings enum is not the SPEC's code table")
    v = jsonschema.Draft202012Validator(row_schema)
    for o in objs:
        errs = list(v.iter_errors(o))
        check(not errs, "jsonl %s: not valid against row.schema.json: %s"
              % (o.get("domain"), [e.message[:200] for e in errs[:3]]))
    # the same columns as the CSV would have, judged against the truth again
    rows = [mxtest.Row(mxtest.csv_row_of_json(o)) for o in objs]
    compare(rows, truth, pub, True, "jsonl")
    check_stats(mxtest.load_stats(out + ".stats.json"), rows, stats_schema, jsonschema, "jsonl")
    print("jsonl: %d rows valid" % len(objs))
    n = check_explanations(opts + ["--checks", "mx,mta-sts,dane,smtp"], truth, probe_rows)
    print("mxscan check: %d policy findings explained with their RFC section" % n)
    check(n >= 5, "mxscan check: only %d findings explained" % n)
    return 0


def main():
    ap = mxtest.arg_parser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--net", default="127.0.32")
    a = mxtest.parse_args(need=("mxscan",), parser=ap, unittest_args=False)
    work = os.path.join(a.workdir, "scan")
    os.makedirs(work, exist_ok=True)
    rc = mxtest.policy_lab_run(a.source, a.workdir, a.net, lambda env: run_all(a, env, work))
    if rc:
        return rc
    if FAILS:
        print("%d failures" % len(FAILS))
        return 1
    print("policy scan: every case agrees")
    return 0


if __name__ == "__main__":
    sys.exit(main())

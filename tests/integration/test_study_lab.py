#!/usr/bin/env python3
"""mxscan stats and mxscan diff on real scans of the loopback lab (NSD,
scripts/lab; scans go straight to NSD so that two scans of the same zones
give the same rows):

1. a 4-shard scan of the lab is disjoint and complete;
2. `mxscan stats` of the 4 shards (with their --stats files) is byte for
   byte the statistics of a one-machine scan, apart from exactly the
   members the README sets aside (SET_ASIDE below); it validates against
   the schema; without the --stats files the run members are null;
3. the README's pandas-shards block loads all shards at once;
4. errors: run statistics that do not match, a file that is no results
   file, no arguments;
5. (diff) see the DiffLab tests.

Needs Debian's python3-pandas, python3-jsonschema and python3-zstandard.

usage: test_study_lab.py --mxscan BIN --source DIR [--size N] [--seed S]
"""
import collections
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402

for _mod in ("jsonschema", "pandas", "zstandard"):  # pandas reads .zst through zstandard
    try:
        __import__(_mod)
    except ImportError as _e:
        sys.exit("%s: %s; run scripts/install-deps (python3-%s)" % (sys.executable, _e, _mod))
import jsonschema  # noqa: E402

# The members of merged statistics that describe the runs (README "mxscan
# stats"): everything else must be byte-identical. "config.shard" is the
# shard line inside config.
SET_ASIDE = ["merged", "started", "ended", "elapsed_seconds", "domains_per_second", "queries",
             "cache", "config.shard"]

LAB = None
TMP = None


def cut_members(text, names):
    """The JSON text (jansson, indent 2) without the lines of the given
    members: top-level 'key' or 'outer.key' (one level down)."""
    lines = text.split("\n")
    out, skip_indent = [], None
    for line in lines:
        if skip_indent is not None:
            ind = len(line) - len(line.lstrip(" "))
            if ind > skip_indent:
                continue
            if line.strip() in ("}", "},", "]", "],"):
                skip_indent = None
                continue
            skip_indent = None
        m = re.match(r'^( *)"([^"]+)": (.*)$', line)
        if m:
            ind, key, rest = len(m.group(1)), m.group(2), m.group(3)
            parent = None
            if ind == 4:
                for prev in reversed(out):
                    pm = re.match(r'^  "([^"]+)": [\[{]$', prev)
                    if pm:
                        parent = pm.group(1)
                        break
            full = key if ind == 2 else "%s.%s" % (parent, key) if ind == 4 else None
            if full in names:
                if rest.rstrip(",") in ("{", "["):
                    skip_indent = ind
                continue
        out.append(line)
    return "\n".join(out)


def scan(out, extra=(), inputs=None, server=None):
    res = mxtest.run(["scan", "-q", "-r", server or LAB.env["LAB_NSD"], "--allow-address",
                      LAB.env["LAB_ALLOW"], "-o", out] + list(extra) +
                     [inputs or LAB.env["LAB_NAMES"]], timeout=600)
    if res.rc != 0:
        raise AssertionError(res.describe())
    return out


def tmp(name):
    return os.path.join(TMP, name)


def setUpModule():
    global LAB, TMP
    TMP = tempfile.mkdtemp(prefix="mxstudy-")
    LAB = mxtest.Lab(tmp("lab"), "127.0.16.1", "127.0.16.2", size=mxtest.ARGS.size,
                     seed=mxtest.ARGS.seed)
    LAB.up()


def tearDownModule():
    if LAB:
        LAB.down()
    subprocess.run(["rm", "-rf", TMP])


class StatsLab(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.one = scan(tmp("one.csv.zst"), ["--stats", tmp("one.json")])
        cls.shards = []
        for i in range(1, 5):
            cls.shards.append(scan(tmp("shard-%d.csv.zst" % i),
                                   ["--shard", "%d/4" % i, "--stats", tmp("shard-%d.json" % i)]))
        with open(os.path.join(mxtest.SOURCE, "datasets", "schema", "stats.schema.json")) as f:
            cls.validator = jsonschema.Draft202012Validator(json.load(f))

    def stats(self, args):
        return mxtest.run(["stats"] + list(args))

    def validate(self, obj):
        errs = ["%s: %s" % (list(e.path), e.message) for e in self.validator.iter_errors(obj)]
        self.assertEqual(errs[:10], [])

    def test_1_shards_disjoint_complete(self):
        _, one = mxtest.read_csv(self.one)
        seen = {}
        for i, path in enumerate(self.shards, 1):
            _, rows = mxtest.read_csv(path)
            self.assertGreater(len(rows), len(one) // 8, "shard %d is nearly empty" % i)
            for r in rows:
                key = (r["input_file"], r["input_line"])
                self.assertNotIn(key, seen, "line in shards %s and %d" % (seen.get(key), i))
                seen[key] = i
        self.assertEqual(set(seen), {(r["input_file"], r["input_line"]) for r in one})
        # a name's copies all land in one shard
        shard_of = collections.defaultdict(set)
        for i, path in enumerate(self.shards, 1):
            for r in mxtest.read_csv(path)[1]:
                shard_of[r["domain"]].add(i)
        self.assertEqual([d for d, s in shard_of.items() if len(s) > 1], [])

    def test_2_merged_equals_one_machine(self):
        order = list(range(4))
        random.Random(7).shuffle(order)
        runs = ",".join(tmp("shard-%d.json" % (i + 1)) for i in order)
        res = self.stats(["--run-stats", runs, "-o", tmp("merged.json")] +
                         [self.shards[i] for i in reversed(order)])
        self.assertEqual(res.rc, 0, res.describe())
        with open(tmp("merged.json")) as f:
            merged_text = f.read()
        with open(tmp("one.json")) as f:
            one_text = f.read()
        merged, one = json.loads(merged_text), json.loads(one_text)
        self.validate(merged)
        # byte-identical apart from SET_ASIDE, and those really were cut
        self.assertEqual(cut_members(merged_text, SET_ASIDE), cut_members(one_text, SET_ASIDE))
        self.assertNotIn('"queries"', cut_members(merged_text, SET_ASIDE))
        kept = cut_members(merged_text, SET_ASIDE)
        for k in ("domains_this_run", "finding_details", "provider_findings", "inputs",
                  "rows_with_cut_text", "input_errors", "config", "resolvers", "format"):
            self.assertIn('"%s"' % k, kept)
        # the run members: summed and marked
        shard_stats = [mxtest.load_stats(tmp("shard-%d.json" % i)) for i in range(1, 5)]
        for part in ("queries", "cache"):
            self.assertEqual(merged[part]["summed_over_files"], 4)
        for k in ("sent", "answered", "retried", "timed_out"):
            self.assertEqual(merged["queries"][k], sum(s["queries"][k] for s in shard_stats), k)
        self.assertEqual(merged["queries"]["rcode"]["NOERROR"],
                         sum(s["queries"]["rcode"]["NOERROR"] for s in shard_stats))
        self.assertEqual(merged["cache"]["hits"], sum(s["cache"]["hits"] for s in shard_stats))
        self.assertEqual(merged["elapsed_seconds"],
                         max(s["elapsed_seconds"] for s in shard_stats))
        self.assertEqual(sorted(merged["config"]["shard"].split(",")),
                         ["1/4", "2/4", "3/4", "4/4"])
        self.assertEqual(merged["started"], min(s["started"] for s in shard_stats))
        self.assertEqual(merged["merged"]["run_stats"], runs.split(","))

    def test_3_without_run_stats(self):
        res = self.stats(self.shards)
        self.assertEqual(res.rc, 0, res.describe())
        merged = json.loads(res.stdout)
        self.validate(merged)
        for k in ("started", "ended", "stop_reason", "resumed", "elapsed_seconds",
                  "domains_this_run", "domains_per_second", "queries", "cache",
                  "rows_with_cut_text", "input_errors", "config"):
            self.assertIsNone(merged[k], k)
        one = mxtest.load_stats(tmp("one.json"))
        for k in ("domains", "status", "mail_status", "findings", "finding_details",
                  "providers", "provider_findings", "dmarc_policy", "inputs"):
            self.assertEqual(merged[k], one[k], k)

    def test_4_jsonl_shard(self):
        """A JSON Lines result gives the same statistics as the CSV one."""
        jl = scan(tmp("one.jsonl.zst"), ["--format", "jsonl", "--shard", "2/4"])
        a, b = self.stats([jl]), self.stats([self.shards[1]])
        self.assertEqual(a.rc, 0, a.describe())
        self.assertEqual(cut_members(a.stdout.decode(), ["merged"]),
                         cut_members(b.stdout.decode(), ["merged"]))

    def test_5_errors(self):
        res = self.stats(["--run-stats", tmp("shard-1.json")] + self.shards[:2])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"--stats files of the scans", res.stderr)
        res = self.stats([LAB.env["LAB_NAMES"]])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"not a results file", res.stderr)
        res = self.stats([tmp("nonexistent.csv")])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"nonexistent.csv", res.stderr)
        for args in ([], ["--bogus", self.shards[0]]):
            res = self.stats(args)
            self.assertEqual(res.rc, 2, res.describe())
            self.assertIn(b"mxscan stats --help", res.stderr)
        res = mxtest.run(["stats", "--help"])
        self.assertEqual(res.rc, 0)
        self.assertIn(b"--run-stats", res.stdout)
        self.assertIn(b"stats RESULTS", mxtest.run(["help"]).stdout)

    def test_6_pandas_shards(self):
        with open(os.path.join(mxtest.SOURCE, "README.md"), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"<!-- pandas-shards:[^>]*-->\s*```python\n(.*?)```", text, re.S)
        self.assertIsNotNone(m, "README has no pandas-shards block")
        code = m.group(1)
        self.assertIn('"shard-*.csv.zst"', code)
        code = code.replace('"shard-*.csv.zst"', repr(tmp("shard-*.csv.zst")))
        env = {}
        exec(compile(code, "README:pandas-shards", "exec"), env)  # the documented recipe
        df = env["df"]
        _, one = mxtest.read_csv(self.one)
        self.assertEqual(len(df), len(one))
        self.assertEqual(df["shard"].nunique(), 4)
        self.assertEqual(df["domain"].tolist(), [r["domain"] for r in one])
        self.assertEqual(df["mail_status"].tolist(), [r["mail_status"] for r in one])
        self.assertEqual(str(df["input_line"].dtype), "Int64")


# ---------------------------------------------------------------- diff

KIND_ORDER = ["added", "removed", "mx_changed", "providers_changed", "mail_status_changed",
              "findings_gained", "findings_lost", "spf_changed", "dmarc_policy_changed"]


def expected_kinds(a, b):
    """The change kinds of one domain, computed here from two rows (README
    'mxscan diff'): an independent oracle for the C code."""
    if a is None or b is None:
        return ["added" if a is None else "removed"]
    k = []
    if sorted(a["mx"].split(";")) != sorted(b["mx"].split(";")):
        k.append("mx_changed")
    if sorted(a["providers"].split(";")) != sorted(b["providers"].split(";")):
        k.append("providers_changed")
    if a["mail_status"] != b["mail_status"]:
        k.append("mail_status_changed")
    fa, fb = set(mxtest.finding_list(a)), set(mxtest.finding_list(b))
    if fb - fa:
        k.append("findings_gained")
    if fa - fb:
        k.append("findings_lost")
    if (a["spf"], a["spf_result"]) != (b["spf"], b["spf_result"]):
        k.append("spf_changed")
    if a["dmarc_policy"] != b["dmarc_policy"]:
        k.append("dmarc_policy_changed")
    return k


def sort_results(src, dst):
    """The README recipe: header first, then the rows sorted by domain."""
    cmd = ("(zstd -dc %s | head -n 1; zstd -dc %s | tail -n +2 | LC_ALL=C sort -t, -k1,1) "
           "| zstd -q -o %s" % (src, src, dst))
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)
    return dst


class DiffLab(unittest.TestCase):
    """Two scans of the lab with planted zone changes between them."""
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.v1 = scan(tmp("v1.csv.zst"))
        cls.planted = cls.plant()
        LAB.down()
        LAB.up()
        cls.v2 = scan(tmp("v2.csv.zst"))
        rows = mxtest.read_csv(cls.v1)[1]
        cls.n1 = len(rows)
        cls.rows1 = {r["domain"]: r for r in rows}
        cls.rows2 = {r["domain"]: r for r in mxtest.read_csv(cls.v2)[1]}

    @classmethod
    def plant(cls):
        """Edits zones/test.zone: per kind, two domains that nothing else
        refers to. Returns {kind: [domains]}."""
        zone = os.path.join(LAB.dir, "zones", "test.zone")
        with open(zone) as f:
            lines = f.read().split("\n")
        names = LAB.names()
        rdata = [(l.split()[0].rstrip("."), " ".join(l.split()[4:])) for l in lines
                 if l and not l.startswith(";")]
        truth = {r["domain"]: r for r in LAB.truth()}
        with open(os.path.join(LAB.dir, "scenarios.csv")) as f:
            scen = [l.split(",") for l in f.read().split("\n")[1:] if l]
        own = collections.defaultdict(list)   # owner -> line numbers
        for i, l in enumerate(lines):
            if l and not l.startswith(";"):
                own[l.split()[0].rstrip(".")].append(i)

        def free(d):
            mentioned = any(d in text for owner, text in rdata if owner not in (d, "_dmarc." + d))
            return (d.count(".") == 1 and names.count(d) == 1 and not mentioned and
                    not any(n.endswith("." + d) for n in names) and
                    truth[d]["mail_status"] == "ok")

        def pick(mx, dmarc=None, n=2, used=set()):
            out = [s[1] for s in scen if s[0] == s[1] and s[2] == mx and
                   (dmarc is None or s[4] == dmarc) and s[1] not in used and free(s[1])][:n]
            used.update(out)
            if len(out) < n:
                raise AssertionError("the lab has too few %s/%s domains to plant" % (mx, dmarc))
            return out

        def mx_lines(d):
            return [i for i in own[d] if lines[i].split()[3] == "MX"]

        planted = {"mx_swap": pick("hostco"), "move": pick("google"),
                   "dmarc": pick("hostco", "reject"), "break": pick("hostco")}
        for d in planted["mx_swap"]:
            idx = mx_lines(d)
            prefs = [lines[i].split()[4] for i in idx]
            if len(set(prefs)) < 2:
                raise AssertionError("%s: no two preferences to swap" % d)
            for i, p in zip(idx, reversed(prefs)):
                f = lines[i].split()
                lines[i] = " ".join(f[:4] + [p] + f[5:])
        ms = [s[1] for s in scen if s[2] == "microsoft" and s[0] == s[1]][0]
        ms_mx = [" ".join(lines[i].split()[4:]) for i in mx_lines(ms)]
        for d in planted["move"]:
            for i in mx_lines(d):
                lines[i] = ""
            lines += ["%s. 3600 IN MX %s" % (d, r) for r in ms_mx]
        for d in planted["dmarc"]:
            i = [i for i in own["_dmarc." + d]][0]
            lines[i] = lines[i].replace("p=reject", "p=none")
            assert "p=none" in lines[i], lines[i]
        for d in planted["break"]:
            for i in mx_lines(d):
                lines[i] = ""
            lines.append("%s. 3600 IN MX 10 gone-%s." % (d, d))
        with open(zone, "w") as f:
            f.write("\n".join(lines) + "\n")
        return planted

    def diff(self, old, new, extra=()):
        return mxtest.run(["diff", old, new] + list(extra), timeout=600)

    def read_changes(self, path):
        return {r["domain"]: r for r in mxtest.parse_rows(
            list(__import__("csv").reader(mxtest.decompress(path).decode().splitlines())))[1]}

    def test_1_finds_exactly_the_planted_changes(self):
        want = {}
        for d in set(self.rows1) | set(self.rows2):
            k = expected_kinds(self.rows1.get(d), self.rows2.get(d))
            if k:
                want[d] = k
        planted = {d for ds in self.planted.values() for d in ds}
        # the two scans differ exactly where the zones were changed
        self.assertEqual(set(want), planted)
        res = self.diff(self.v1, self.v2, ["-o", tmp("changes.csv.zst"),
                                           "--summary", tmp("summary.json")])
        self.assertEqual(res.rc, 0, res.describe())
        got = self.read_changes(tmp("changes.csv.zst"))
        self.assertEqual({d: r["changes"].split(";") for d, r in got.items()}, want)
        for d in self.planted["mx_swap"]:
            self.assertEqual(got[d]["changes"], "mx_changed")
        for d in self.planted["move"]:
            self.assertIn("providers_changed", got[d]["changes"])
            self.assertEqual((got[d]["old_providers"], got[d]["new_providers"]),
                             ("google", "microsoft"))
        for d in self.planted["dmarc"]:
            self.assertIn("dmarc_policy_changed", got[d]["changes"])
            self.assertEqual(got[d]["new_dmarc_policy"], "none")
            self.assertIn("dmarc_none", got[d]["findings_gained"].split(";"))
        for d in self.planted["break"]:
            self.assertEqual((got[d]["old_mail_status"], got[d]["new_mail_status"]),
                             ("ok", "broken"))
            self.assertIn("mx_nxdomain", got[d]["findings_gained"].split(";"))
        s = mxtest.load_stats(tmp("summary.json"))
        self.assertEqual(s["domains_changed"], len(planted))
        self.assertEqual(s["domains_compared"], self.n1)
        self.assertEqual(s["became_broken"], 2)
        self.assertEqual(s["provider_moves"], {"google -> microsoft": 2})
        self.assertEqual(s["dmarc_policy_moves"], {"reject -> none": 2})
        self.assertEqual(s["mail_status_moves"], {"ok -> broken": 2})
        for kind in KIND_ORDER:
            self.assertEqual(s["changes"][kind], sum(kind in k for k in want.values()), kind)
        self.assertEqual(s["findings_gained"]["mx_nxdomain"], 2)
        # JSON Lines gives the same changes
        res = self.diff(self.v1, self.v2, ["-o", tmp("changes.jsonl")])
        self.assertEqual(res.rc, 0, res.describe())
        with open(tmp("changes.jsonl")) as f:
            jl = {o["domain"]: o["changes"] for o in map(json.loads, f)}
        self.assertEqual(jl, want)

    def test_2_sorted_inputs_added_and_removed(self):
        a, b = sort_results(self.v1, tmp("v1.sorted.csv.zst")), \
            sort_results(self.v2, tmp("v2.sorted.csv.zst"))
        # drop one domain from each side: removed (only in OLD), added (only in NEW)
        doms = sorted(d for d in self.rows1 if d.endswith(".test") and d.count(".") == 1)
        gone, new = doms[10], doms[20]
        for path, drop in ((a, new), (b, gone)):
            data = mxtest.decompress(path).decode().split("\n")
            kept = [l for l in data if not l.startswith(drop + ",")]
            self.assertEqual(len(kept), len(data) - 1, drop)
            mxtest.compress("\n".join(kept).encode(), path, "zstd")
        res = self.diff(a, b, ["-o", tmp("sorted-changes.csv")])
        self.assertEqual(res.rc, 0, res.describe())
        got = self.read_changes(tmp("sorted-changes.csv"))
        self.assertEqual(got[gone]["changes"], "removed")
        self.assertEqual(got[new]["changes"], "added")
        planted = {d for ds in self.planted.values() for d in ds}
        self.assertEqual(set(got), planted | {gone, new})
        summary = json.loads(res.stdout)
        self.assertEqual((summary["changes"]["added"], summary["changes"]["removed"]), (1, 1))

    def test_3_out_of_order_fails_clearly(self):
        sorted_v2 = sort_results(self.v2, tmp("v2.sorted2.csv.zst"))
        out = tmp("bad-changes.csv")
        res = self.diff(self.v1, sorted_v2, ["-o", out])
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"not sorted by domain", res.stderr)
        self.assertIn(b"same order", res.stderr)
        self.assertFalse(os.path.exists(out), "no partial diff is left behind")
        # a sorted file whose rows later go out of order
        data = mxtest.decompress(sorted_v2).decode().split("\n")
        data[len(data) // 2], data[len(data) // 2 + 1] = data[len(data) // 2 + 1], \
            data[len(data) // 2]
        mxtest.compress("\n".join(data).encode(), tmp("v2.swapped.csv.zst"), "zstd")
        res = self.diff(sorted_v2, tmp("v2.swapped.csv.zst"))
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"is not sorted by domain: row", res.stderr)
        for args in ([self.v1], [], ["--format", "xml", self.v1, self.v2]):
            res = mxtest.run(["diff"] + args)
            self.assertEqual(res.rc, 2, res.describe())
            self.assertIn(b"mxscan diff --help", res.stderr)
        res = self.diff(LAB.env["LAB_NAMES"], self.v2)
        self.assertEqual(res.rc, 1, res.describe())
        self.assertIn(b"not a results file", res.stderr)
        self.assertIn(b"diff OLD NEW", mxtest.run(["help"]).stdout)
        self.assertIn(b"same order", mxtest.run(["diff", "--help"]).stdout)


class DiffMemory(unittest.TestCase):
    """The diff streams: its peak RSS on 500,000-row files stays under a
    fixed bound and hardly grows from 50,000 rows."""

    BOUND_MB = 64

    def write(self, path, n, changed):
        header = ("domain,status,mail_status,mx,findings,mx_ttl,mx_addresses,providers,spf,"
                  "spf_result,spf_lookups,spf_voids,spf_providers,dmarc,dmarc_policy,"
                  "dmarc_source,input_line,input_file,rank\n")
        with open(path, "w") as f:
            f.write(header)
            for i in range(n):
                c = changed and i % 1000 == 0
                f.write("d%07d.test,NOERROR,%s,10 mx%d.hostco.test,%s,300,,,v=spf1 -all,ok,0,0,,"
                        "v=DMARC1; p=reject,reject,domain,%d,in.txt,\n"
                        % (i, "broken" if c else "ok", i % 7, "mx_nxdomain" if c else "", i + 1))

    def peak_rss_mb(self, old, new):
        """Runs the diff in a fresh python whose only child is mxscan."""
        code = ("import resource, subprocess, sys\n"
                "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
                "print(r, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
        # ASan keeps freed blocks in a quarantine that grows with the work:
        # without it the peak shows what the diff itself keeps.
        env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
                   ":quarantine_size_mb=0")
        out = subprocess.run([sys.executable, "-c", code, mxtest.MXSCAN, "diff", old, new, "-o",
                              tmp("mem-changes.csv.zst"), "--summary", tmp("mem-summary.json")],
                             stdout=subprocess.PIPE, check=True, env=env,
                             timeout=600 * mxtest.timeout_factor()).stdout.split()
        self.assertEqual(out[0], b"0", "mxscan diff failed")
        return int(out[1]) / 1024.0

    def test_bounded_memory(self):
        sizes = {}
        for n in (50000, 500000):
            old, new = tmp("mem-old-%d.csv" % n), tmp("mem-new-%d.csv" % n)
            self.write(old, n, False)
            self.write(new, n, True)
            sizes[n] = self.peak_rss_mb(old, new)
            s = mxtest.load_stats(tmp("mem-summary.json"))
            self.assertEqual(s["domains_compared"], n)
            self.assertEqual(s["became_broken"], n // 1000)
            os.unlink(old)
            os.unlink(new)
        print("peak RSS of mxscan diff: %.1f MB (50k rows), %.1f MB (500k rows)"
              % (sizes[50000], sizes[500000]))
        if mxtest.sanitizer() is None:
            self.assertLess(sizes[500000], self.BOUND_MB)
        # (a sanitizer's shadow memory is out of any absolute bound; growth
        # with the rows is still measured)
        self.assertLess(sizes[500000] - sizes[50000], 8, "memory grows with the rows")


if __name__ == "__main__":
    mxtest.lab_main(size=3000, seed=11)

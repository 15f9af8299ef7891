#!/usr/bin/env python3
"""Core guarantees of `mxscan scan` against faultdns on 127.0.0.1.

One row per input line in input order (plain, rank,domain CSV, .zst, .gz,
stdin, several files), the output formats (.zst, .csv, stdout), RFC 4180,
the statistics JSON, the rate limit, the concurrency cap, --shard, and the
exit codes for usage errors and missing files.

usage: test_core.py --mxscan PATH --faultdns PATH [unittest args]
"""
import csv
import io
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402
from mxtest import FaultDNS, TempDirCase, read_csv, run, run_scan  # noqa: E402

# Names whose answers are slow, so that completion order differs from input
# order; and records whose text needs CSV quoting.
CORE_ZONE = mxtest.BASE_ZONE + """\
*.slow.test      MX    300 10 mx1.lab.test
*.slow.test      delay 150
quote.test       MX    300 10 mx1.lab.test
quote.test       TXT   300 "v=spf1 ip4:192.0.2.0/24 include:\\"odd\\",name -all"
_dmarc.quote.test TXT  300 "v=DMARC1; p=none; rua=mailto:a@quote.test,mailto:b@quote.test"
nl.test          MX    300 10 mx1.lab.test
nl.test          TXT   300 "v=spf1 line\\010break\\013cr -all"
"""

# (input name, expected domain column, expected status, expected mail_status)
KINDS = [
    ("ok.test", "ok.test", "NOERROR", "ok"),
    ("implicit.test", "implicit.test", "NOERROR", "implicit"),
    ("nullmx.test", "nullmx.test", "NOERROR", "no_mail"),
    ("dangling.test", "dangling.test", "NOERROR", "broken"),
    ("private.test", "private.test", "NOERROR", "broken"),
    ("nx.test", "nx.test", "NXDOMAIN", "nxdomain"),
    ("bad_name.test", "bad_name.test", "INVALID", "invalid"),
    ("OK.Test.", "ok.test", "NOERROR", "ok"),
]


def make_names(n, seed, slow_share=0.2):
    """n (input, expected) pairs mixing kinds, wildcard and slow names."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        if r < slow_share:
            name = "s%d.slow.test" % i
            out.append((name, name, "NOERROR", "ok"))
        elif r < 0.6:
            name = "n%d.w.test" % i
            out.append((name, name, "NOERROR", "ok"))
        elif r < 0.7:
            name = "x%d.nx.test" % i
            out.append((name, name, "NXDOMAIN", "nxdomain"))
        else:
            out.append(rng.choice(KINDS))
    return out


def fnv1a64(text):
    """SPEC section 4 / README "Sharding": 64-bit FNV-1a of the UTF-8 bytes."""
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class CoreTests(TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = FaultDNS(CORE_ZONE)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def scan(self, output, inputs, extra=(), stdin=None, expect_rc=0):
        res = run_scan(self.dns.addr, output, inputs, extra=extra, stdin=stdin)
        self.assertEqual(res.rc, expect_rc, res.describe())
        return res

    def assert_rows(self, rows, expected, what=""):
        """Rows match the expected (input, domain, status, mail_status) in order."""
        got = [r["domain"] for r in rows]
        want = [e[1] for e in expected]
        self.assertEqual(len(got), len(want), "%s: %d rows for %d input names" % (what, len(got), len(want)))
        for i, (r, e) in enumerate(zip(rows, expected)):
            self.assertEqual((r["domain"], r["status"], r["mail_status"]), e[1:],
                             "%s: row %d (input %r)" % (what, i + 1, e[0]))

    # ---- input formats and order ----

    def test_plain_list_in_order_with_comments_and_blanks(self):
        names = make_names(400, 1)
        lines = []
        rng = random.Random(2)
        for n in names:
            if rng.random() < 0.1:
                lines.append(rng.choice(["", "   ", "\t", "# a comment", "   # indented comment"]))
            lines.append(n[0])
        inp = self.write("in.txt", "\n".join(lines) + "\n")
        out = self.path("out.zst")
        st = self.path("stats.json")
        self.scan(out, [inp], extra=["--stats", st])
        header, rows = read_csv(out)
        for col in mxtest.REQUIRED_COLUMNS:
            self.assertIn(col, header)
        self.assertEqual(header[0], "domain")
        self.assert_rows(rows, names, "plain list")
        self.check_stats(mxtest.load_stats(st), rows)

    def check_stats(self, stats, rows):
        self.assertEqual(stats["domains"], len(rows))
        for key, values, col in (("status", mxtest.STATUSES, "status"),
                                 ("mail_status", mxtest.MAIL_STATUSES, "mail_status")):
            obj = stats[key]
            self.assertIsInstance(obj, dict)
            self.assertEqual(sorted(obj), sorted(values), "stats %s: other keys" % key)
            for v in values:
                self.assertEqual(obj[v], sum(1 for r in rows if r[col] == v), "stats %s[%s]" % (key, v))
            self.assertEqual(sum(obj.values()), len(rows), "stats %s does not sum to domains" % key)
        # Every code of the table, zeros included, in the table's order.
        fobj = stats["findings"]
        self.assertEqual(list(fobj), mxtest.FINDING_CODES, "stats findings: not the table's codes")
        for code in mxtest.FINDING_CODES:
            self.assertIsInstance(fobj[code], int)
            self.assertEqual(fobj[code], sum(1 for r in rows if code in mxtest.finding_list(r)),
                             "stats findings[%s] differs from the rows" % code)
        # A default scan makes none of the opt-in checks' findings.
        for code in mxtest.OPT_IN_CODES:
            self.assertEqual(fobj[code], 0, "opt-in code %s in a default scan" % code)
        q = stats["queries"]
        for k in ("sent", "answered", "retried", "timed_out"):
            self.assertIn(k, q)
            self.assertIsInstance(q[k], int)
            self.assertGreaterEqual(q[k], 0)
        self.assertGreater(q["sent"], 0)
        self.assertLessEqual(q["answered"], q["sent"])
        self.assertIsInstance(stats["elapsed_seconds"], (int, float))
        self.assertGreater(stats["elapsed_seconds"], 0)
        # Findings column: known codes only, in the SPEC's order, no repeats.
        order = {c: i for i, c in enumerate(mxtest.FINDING_CODES)}
        for r in rows:
            fl = mxtest.finding_list(r)
            for c in fl:
                self.assertIn(c, order, "unknown finding code %r in row %r" % (c, r["domain"]))
            idx = [order[c] for c in fl]
            self.assertEqual(idx, sorted(set(idx)), "findings out of order or repeated: %r" % r["findings"])

    def test_rank_domain_csv(self):
        names = make_names(120, 3)
        body = "rank,domain\n" + "".join('%d,%s\n' % (i + 1, n[0]) for i, n in enumerate(names))
        # A quoted CSV field and a three-column line still take the last column.
        body += '121,"ok.test"\n122,extra,implicit.test\n'
        names = names + [KINDS[0], KINDS[1]]
        inp = self.write("ranked.csv", body)
        out = self.path("out.csv")
        self.scan(out, [inp])
        _, rows = read_csv(out)
        self.assert_rows(rows, names, "rank,domain CSV")

    def test_compressed_inputs_and_stdin_match_plain(self):
        names = make_names(200, 4)
        data = ("".join(n[0] + "\n" for n in names)).encode()
        plain = self.write("in.txt", data)
        zst = mxtest.compress(data, self.path("in.zst"), "zstd")
        gz = mxtest.compress(data, self.path("in.gz"), "gzip")
        # Detected by content, not by name.
        odd = mxtest.compress(data, self.path("list.txt"), "zstd")
        ref = self.path("plain.csv")
        self.scan(ref, [plain])
        _, ref_rows = read_csv(ref)
        self.assert_rows(ref_rows, names, "plain")

        def rows_from(data, path):
            """The rows with their input_file column (the path) made one."""
            rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
            col = rows[0].index("input_file")
            for r in rows[1:]:
                self.assertEqual(r[col], path, "input_file column")
                r[col] = "IN"
            return rows
        with open(ref, "rb") as f:
            ref_bytes = rows_from(f.read(), plain)
        self.assertEqual(len(ref_bytes), len(names) + 1)
        for label, src in (("zst", zst), ("gz", gz), ("zst named .txt", odd)):
            out = self.path("out-%s.csv" % label.replace(" ", "_"))
            self.scan(out, [src])
            with open(out, "rb") as f:
                self.assertEqual(rows_from(f.read(), src), ref_bytes,
                                 "%s input gives different output" % label)
        # Concatenated zstd frames and gzip members (cat a.zst b.zst) are one stream.
        half = len(names) // 2
        first = "".join(n[0] + "\n" for n in names[:half]).encode()
        second = "".join(n[0] + "\n" for n in names[half:]).encode()
        for tool in ("zstd", "gzip"):
            a = mxtest.compress(first, self.path("a." + tool), tool)
            b = mxtest.compress(second, self.path("b." + tool), tool)
            cat = self.path("multi." + tool)
            with open(cat, "wb") as f:
                for part in (a, b):
                    with open(part, "rb") as g:
                        f.write(g.read())
            out = self.path("out-multi-%s.csv" % tool)
            self.scan(out, [cat])
            with open(out, "rb") as f:
                self.assertEqual(rows_from(f.read(), cat), ref_bytes,
                                 "concatenated %s input gives different output" % tool)
        res = self.scan("-", ["-"], stdin=data)
        self.assertEqual(rows_from(res.stdout, "-"), ref_bytes, "stdin input gives different output")
        with open(zst, "rb") as f:
            res = self.scan("-", ["-"], stdin=f.read())
        self.assertEqual(rows_from(res.stdout, "-"), ref_bytes,
                         "zstd on stdin gives different output")

    def test_several_files_in_a_row(self):
        parts = [make_names(60, s) for s in (5, 6, 7, 8)]
        f1 = self.write("a.txt", "".join(n[0] + "\n" for n in parts[0]))
        f2 = mxtest.compress("".join(n[0] + "\n" for n in parts[1]).encode(), self.path("b.zst"), "zstd")
        # last file without a final newline
        f3 = mxtest.compress(("".join(n[0] + "\n" for n in parts[2])).rstrip("\n").encode(),
                             self.path("c.gz"), "gzip")
        stdin = ("rank,domain\n" + "".join("%d,%s\n" % (i, n[0]) for i, n in enumerate(parts[3]))).encode()
        out = self.path("out.zst")
        self.scan(out, [f1, f2, "-", f3], stdin=stdin)
        _, rows = read_csv(out)
        self.assert_rows(rows, parts[0] + parts[1] + parts[3] + parts[2], "several files")

    # ---- output ----

    def test_output_formats_and_rfc4180(self):
        names = [("quote.test",), ("nl.test",), ("ok.test",)] * 3
        inp = self.write("in.txt", "".join(n[0] + "\n" for n in names))
        zst, plain = self.path("out.zst"), self.path("out.csv")
        self.scan(zst, [inp])
        self.scan(plain, [inp])
        with open(zst, "rb") as f:
            self.assertEqual(f.read(4), b"\x28\xb5\x2f\xfd", "-o out.zst is not zstd")
        with open(plain, "rb") as f:
            raw_plain = f.read()
        self.assertTrue(raw_plain.startswith(b"domain,"), "-o out.csv is not plain CSV with the header first")
        self.assertEqual(mxtest.decompress(zst), raw_plain, ".zst and .csv outputs differ")
        res = self.scan("-", [inp])
        self.assertEqual(res.stdout, raw_plain, "-o - differs from -o x.csv")
        _, rows = mxtest.parse_csv(raw_plain)
        self.assertEqual(len(rows), len(names))
        spf = {r["domain"]: r["spf"] for r in rows}
        self.assertEqual(spf["quote.test"], 'v=spf1 ip4:192.0.2.0/24 include:"odd",name -all')
        # Control characters may be escaped, but the field must stay one record.
        self.assertTrue(spf["nl.test"].startswith("v=spf1 line"), spf["nl.test"])
        d = [r["dmarc"] for r in rows if r["domain"] == "quote.test"][0]
        self.assertEqual(d, "v=DMARC1; p=none; rua=mailto:a@quote.test,mailto:b@quote.test")
        # RFC 4180: every quote inside a field is doubled; no bare CR/LF inside a record.
        for line in raw_plain.split(b"\n")[:-1]:
            self.assertNotIn(b"\r", line, "bare CR inside a CSV record")
        self.assertTrue(raw_plain.endswith(b"\n"))

    def test_empty_input_gives_header_only(self):
        inp = self.write("empty.txt", "# nothing here\n\n")
        out = self.path("out.zst")
        st = self.path("st.json")
        self.scan(out, [inp], extra=["--stats", st])
        header, rows = read_csv(out)
        self.assertEqual(rows, [])
        self.assertIn("domain", header)
        self.assertEqual(mxtest.load_stats(st)["domains"], 0)

    # ---- shard ----

    def test_shards_partition_the_input(self):
        names = make_names(300, 9, slow_share=0.05)
        # duplicates: each copy is one line, and all copies go to one shard
        names += names[:20]
        inp = self.write("in.txt", "".join(n[0] + "\n" for n in names))
        full = self.path("full.csv")
        self.scan(full, [inp])
        header, rows = read_csv(full)
        self.assert_rows(rows, names, "unsharded")
        union = []
        sizes = []
        for i in (1, 2, 3):
            out = self.path("shard%d.csv" % i)
            self.scan(out, [inp], extra=["--shard", "%d/3" % i])
            h, srows = read_csv(out)
            self.assertEqual(h, header)
            sizes.append(len(srows))
            lines = [int(r["input_line"]) for r in srows]
            self.assertEqual(lines, sorted(lines), "shard %d/3 rows not in input order" % i)
            union += srows
        self.assertTrue(all(s > 0 for s in sizes), "a shard is empty: %r" % sizes)
        canon = lambda rs: sorted(tuple(r[c] for c in header) for r in rs)  # noqa: E731
        self.assertEqual(len(union), len(rows), "shard sizes %r do not add up to %d" % (sizes, len(rows)))
        self.assertEqual(canon(union), canon(rows), "the union of the shards differs from the full scan")
        # the documented hash: FNV-1a 64 of the domain column, modulo N
        for i in (1, 2, 3):
            _, srows = read_csv(self.path("shard%d.csv" % i))
            for r in srows:
                self.assertEqual(fnv1a64(r["domain"]) % 3, i - 1, r["domain"])

    def test_shard_follows_the_name_not_the_line(self):
        """A name keeps its shard whatever its rank, line, case or file."""
        names = ["h%d.w.test" % i for i in range(150)] + ["x%d.nx.test" % i for i in range(50)]
        plain = self.write("plain.txt", "".join(n + "\n" for n in names))
        rev = list(reversed(names))
        ranked = self.write("ranked.csv", "".join("%d,%s.\n" % (k + 1000, n.upper())
                                                  for k, n in enumerate(rev)))
        where = []
        for inp in (plain, ranked):
            shard_of = {}
            for i in (1, 2):
                out = self.path("s%d-%s.csv" % (i, os.path.basename(inp)))
                self.scan(out, [inp], extra=["--shard", "%d/2" % i])
                for r in read_csv(out)[1]:
                    shard_of[r["domain"]] = i
            self.assertEqual(len(shard_of), len(set(names)))
            where.append(shard_of)
        self.assertEqual(where[0], where[1])
        self.assertEqual(set(where[0].values()), {1, 2})

    # ---- rate and concurrency ----

    def test_rate_limit(self):
        rate = 400
        n = 1500
        with FaultDNS(mxtest.BASE_ZONE) as dns:
            inp = self.write("in.txt", "".join("r%d.w.test\n" % i for i in range(n)))
            st = self.path("st.json")
            res = run_scan(dns.addr, self.path("out.zst"), [inp],
                           extra=["--rate", str(rate), "--checks", "mx", "--stats", st])
            self.assertEqual(res.rc, 0, res.describe())
            fst = dns.stop()
        _, rows = read_csv(self.path("out.zst"))
        self.assertEqual(len(rows), n)
        self.assertTrue(all(r["status"] == "NOERROR" for r in rows))
        queries = fst["queries"]
        self.assertGreaterEqual(queries, n, "fewer queries than names")
        burst = rate // 20
        # The bucket bounds what is SENT in any window T by rate*T + burst.
        # faultdns stamps queries when it reads them, so a responder that was
        # not scheduled for a while reads earlier sends together: a window T
        # at the receiver can hold sends from T + delay. Allow 25 ms of such
        # delay (busy 2-core CI machine, sanitizer builds), no more.
        delay = 0.025
        self.assertLessEqual(fst["max_in_1s"], rate * (1 + delay) + burst,
                             "faultdns saw %d queries in one second" % fst["max_in_1s"])
        self.assertLessEqual(fst["max_in_100ms"], rate * (0.1 + delay) + burst,
                             "faultdns saw %d queries in 100 ms" % fst["max_in_100ms"])
        # The limit is not just respected but used (within reason).
        self.assertGreaterEqual(fst["max_in_1s"], rate * 0.6, "rate far below --rate: %r" % fst["per_second"])
        min_time = (queries - burst) / rate
        self.assertGreaterEqual(res.elapsed, min_time * 0.95,
                                "%d queries in %.2f s at --rate %d" % (queries, res.elapsed, rate))
        span = (fst["last_query_ms"] - fst["first_query_ms"]) / 1000.0
        self.assertGreaterEqual(span, min_time * 0.95 - 0.1)
        sst = mxtest.load_stats(st)
        self.assertEqual(sst["queries"]["sent"], queries, "stats queries.sent differs from what faultdns received")

    def test_concurrency_cap(self):
        zone = mxtest.BASE_ZONE + "* delay 100\n"
        n = 200
        with FaultDNS(zone) as dns:
            inp = self.write("in.txt", "".join("c%d.w.test\n" % i for i in range(n)))
            res = run_scan(dns.addr, self.path("out.zst"), [inp],
                           extra=["--concurrency", "16", "--checks", "mx", "--rate", "0"])
            self.assertEqual(res.rc, 0, res.describe())
            fst = dns.stop()
        _, rows = read_csv(self.path("out.zst"))
        self.assertEqual(len(rows), n)
        self.assertTrue(all(r["status"] == "NOERROR" for r in rows), "slow answers were treated as failures")
        self.assertLessEqual(fst["max_outstanding"], 16, "faultdns had %d queries outstanding" % fst["max_outstanding"])
        self.assertGreaterEqual(fst["max_outstanding"], 8, "concurrency far below the cap")
        # 200 queries, 16 at a time, 100 ms each: at least ~1.2 s
        self.assertGreaterEqual(res.elapsed, (n / 16) * 0.1 * 0.9)

    # ---- exit codes ----

    def test_usage_errors_exit_2(self):
        inp = self.write("in.txt", "ok.test\n")
        out = self.path("out.zst")
        r = self.dns.addr
        cases = [
            (["--bogus-option"], "unknown option"),
            (["--rate", "abc"], "non-numeric rate"),
            (["--rate", "-5"], "negative rate"),
            (["--concurrency", "0"], "zero concurrency"),
            (["--threads", "x"], "bad threads"),
            (["--timeout", "1e9999"], "bad timeout"),
            (["--retries", "-1"], "negative retries"),
            (["--shard", "4/3"], "shard beyond N"),
            (["--shard", "0/3"], "shard 0"),
            (["--shard", "1/0"], "N = 0"),
            (["--shard", "abc"], "shard syntax"),
            (["--checks", "nonsense"], "unknown check"),
            (["--allow-address", "not-a-cidr"], "bad CIDR"),
            (["-r", "not an address"], "bad resolver"),
        ]
        for extra, what in cases:
            with self.subTest(what=what):
                res = run(["scan", "-q", "-r", r, "-o", out] + extra + [inp])
                self.assertEqual(res.rc, 2, "%s: %s" % (what, res.describe()))
                self.assertTrue(res.stderr.strip(), "%s: no message on stderr" % what)
                self.assertFalse(os.path.exists(out), "%s: output written despite a usage error" % what)
        res = run(["scan", "-q", "-r", r, "-o", out])
        self.assertEqual(res.rc, 2, "no input: " + res.describe())
        self.assertTrue(res.stderr.strip())
        res = run(["no-such-command"])
        self.assertEqual(res.rc, 2, res.describe())

    def test_missing_input_exits_2(self):
        """Issue: an unreadable input file exits 2 with a message, before any query."""
        out = self.path("out.zst")
        missing = self.path("does-not-exist.txt")
        res = run(["scan", "-q", "-r", self.dns.addr, "-o", out, missing])
        self.assertEqual(res.rc, 2, res.describe())
        self.assertIn("does-not-exist.txt", res.stderr.decode("utf-8", "replace"),
                      "the message does not name the missing file")


if __name__ == "__main__":
    mxtest.main()

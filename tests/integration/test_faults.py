#!/usr/bin/env python3
"""mxscan against a misbehaving resolver (faultdns on 127.0.0.1).

One test per fault kind, random packet loss, hostile input bytes, damaged
compressed input, and a resolver that dies midway (watchdog stop + resume).

usage: test_faults.py --mxscan PATH --faultdns PATH [unittest args]
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402
from mxtest import FaultDNS, TempDirCase, read_csv, run_scan  # noqa: E402

FAILED_STATUSES = ("SERVFAIL", "REFUSED", "TIMEOUT")
# The columns the loss test compares between a clean and a lossy scan (a
# missing one fails: rows raise on unknown columns).
MX_COLS = ["mail_status", "mx", "mx_addresses", "mx_ttl"]
SPF_COLS = ["spf", "spf_result", "spf_lookups", "spf_voids", "spf_providers"]
DMARC_COLS = ["dmarc", "dmarc_policy", "dmarc_source"]
RIGHT_MX = "10 mx1.lab.test"

# Per fault kind: a domain whose MX query misbehaves ("<k>.f.test") and a
# domain whose single exchange's A/AAAA look-ups misbehave ("x<k>.f.test",
# exchange "mx-<k>.lab.test", true address 192.0.2.77).
FAULT_KINDS = ["drop", "servfail", "refused", "formerr", "notimp", "truncate",
               "wrong-id", "wrong-question", "malformed", "oversize",
               "compression-loop", "foreign-records"]


def fault_zone():
    z = mxtest.BASE_ZONE
    for k in FAULT_KINDS:
        z += "%s.f.test MX 300 10 mx1.lab.test\n%s.f.test %s\n" % (k, k, k)
        z += "x%s.f.test MX 300 10 mx-%s.lab.test\n" % (k, k)
        z += "mx-%s.lab.test A 300 192.0.2.77\nmx-%s.lab.test AAAA 300 2001:db8::77\n" % (k, k)
        z += "mx-%s.lab.test %s\n" % (k, k)
    z += """\
flap.f.test        MX 300 10 mx1.lab.test
flap.f.test        flap 1
flap2.f.test       MX 300 10 mx1.lab.test
flap2.f.test       flap 1
big.f.test         MX 300 10 mx1.lab.test
big.f.test         MX 300 20 mx2.lab.test
"""
    # An answer too long for UDP (honest TC=1): the TCP retry must give all of it.
    for i in range(60):
        z += "big.f.test MX 300 %d mx-long-name-number-%02d.lab.test\n" % (100 + i, i)
    z += "*.lab.test A 300 192.0.2.90\n"
    # An exchange that fails while the other is fine: degraded, not broken.
    z += """\
half.f.test        MX 300 10 mx1.lab.test
half.f.test        MX 300 20 mx-drop.lab.test
"""
    return z


class FaultKindTests(TempDirCase):
    """One scan of all fault names (fast); one test method per fault kind."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="mxfaults-")
        names = []
        for k in FAULT_KINDS:
            names += ["%s.f.test" % k, "x%s.f.test" % k]
        names += ["flap.f.test", "big.f.test", "half.f.test", "ok.test"]
        cls.names = names
        inp = os.path.join(cls.dir, "in.txt")
        with open(inp, "w") as f:
            f.write("".join(n + "\n" for n in names))
        cls.out = os.path.join(cls.dir, "out.csv")
        cls.stats_path = os.path.join(cls.dir, "stats.json")
        with FaultDNS(fault_zone()) as dns:
            cls.res = run_scan(dns.addr, cls.out, [inp],
                               extra=["--timeout", "300", "--retries", "2", "--checks", "mx",
                                      "--stats", cls.stats_path])
            cls.fstats = dns.stop()
        cls.rows = {}
        if cls.res.rc == 0:
            _, rows = read_csv(cls.out)
            cls.row_list = rows
            cls.rows = {r["domain"]: r for r in rows}

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.dir, ignore_errors=True)

    def row(self, name):
        self.assertEqual(self.res.rc, 0, self.res.describe())
        self.assertIn(name, self.rows, "no row for %s" % name)
        return self.rows[name]

    def assert_domain_failed(self, name, statuses=FAILED_STATUSES):
        r = self.row(name)
        self.assertIn(r["status"], statuses, "%s: %r" % (name, r))
        self.assertIn("domain_lookup_failed", mxtest.finding_list(r), name)
        self.assertEqual(r["mail_status"], "unknown", name)
        self.assertEqual(r["mx"], "", "%s: MX data from a failed query: %r" % (name, r["mx"]))
        return r

    def assert_exchange_failed(self, name):
        """The exchange's look-up failed: mx_lookup_failed and unknown, never a verdict."""
        r = self.row(name)
        fl = mxtest.finding_list(r)
        self.assertEqual(r["status"], "NOERROR", name)
        self.assertIn("mx_lookup_failed", fl, "%s: %r" % (name, r))
        self.assertEqual(r["mail_status"], "unknown", "%s: %r" % (name, r))
        for bad in ("mx_nxdomain", "mx_no_address", "mx_all_unusable", "mx_private_address"):
            self.assertNotIn(bad, fl, "%s: a failed look-up reported as %s: %r" % (name, bad, r))
        return r

    def assert_right_or_failed(self, name, exchange_fault):
        """Either the zone's true data or an honest failure, never made-up data."""
        r = self.row(name)
        if exchange_fault:
            if "mx_lookup_failed" in mxtest.finding_list(r):
                return self.assert_exchange_failed(name)
            self.assertEqual(r["mail_status"], "ok", "%s: %r" % (name, r))
            self.assertIn("192.0.2.77", r["mx_addresses"], name)
        else:
            if r["status"] != "NOERROR":
                return self.assert_domain_failed(name)
            self.assertEqual(r["mx"], RIGHT_MX, "%s: %r" % (name, r))
            self.assertEqual(r["mail_status"], "ok", name)
        return r

    def test_every_name_has_one_row_in_order(self):
        self.assertEqual(self.res.rc, 0, self.res.describe())
        self.assertEqual([r["domain"] for r in self.row_list], self.names)
        st = mxtest.load_stats(self.stats_path)
        self.assertEqual(st["domains"], len(self.names))
        self.assertGreater(st["queries"]["timed_out"], 0)
        self.assertGreater(st["queries"]["retried"], 0)

    def test_control_row(self):
        r = self.row("ok.test")
        self.assertEqual((r["status"], r["mail_status"]), ("NOERROR", "ok"))

    def test_drop(self):
        r = self.assert_domain_failed("drop.f.test", ("TIMEOUT",))
        self.assertEqual(r["status"], "TIMEOUT")
        self.assert_exchange_failed("xdrop.f.test")

    def test_dropped_exchange_never_nxdomain(self):
        r = self.assert_exchange_failed("xdrop.f.test")
        self.assertNotIn("mx_nxdomain", r["findings"])
        # One of two exchanges failing: the other still carries the mail.
        h = self.row("half.f.test")
        self.assertIn("mx_lookup_failed", mxtest.finding_list(h), h)
        self.assertIn(h["mail_status"], ("degraded", "ok"), h)
        self.assertNotIn("mx_all_unusable", h["findings"])

    def test_servfail(self):
        r = self.assert_domain_failed("servfail.f.test")
        self.assertEqual(r["status"], "SERVFAIL")
        self.assert_exchange_failed("xservfail.f.test")

    def test_refused(self):
        r = self.assert_domain_failed("refused.f.test")
        self.assertEqual(r["status"], "REFUSED")
        self.assert_exchange_failed("xrefused.f.test")

    def test_formerr(self):
        self.assert_domain_failed("formerr.f.test")
        self.assert_exchange_failed("xformerr.f.test")

    def test_notimp(self):
        self.assert_domain_failed("notimp.f.test")
        self.assert_exchange_failed("xnotimp.f.test")

    def test_truncate_retries_over_tcp(self):
        r = self.row("truncate.f.test")
        self.assertEqual((r["status"], r["mx"], r["mail_status"]), ("NOERROR", RIGHT_MX, "ok"), r)
        x = self.row("xtruncate.f.test")
        self.assertEqual(x["mail_status"], "ok", x)
        self.assertIn("192.0.2.77", x["mx_addresses"])
        self.assertIn("2001:db8::77", x["mx_addresses"])
        self.assertGreater(self.fstats["tcp"], 0, "no TCP query after a truncated answer")

    def test_long_answer_over_tcp(self):
        r = self.row("big.f.test")
        self.assertEqual(r["status"], "NOERROR", r)
        mx = r["mx"].split(";")
        self.assertEqual(len(mx), 62, "the truncated answer was not completed over TCP: %d MX" % len(mx))
        self.assertEqual(mx[:2], ["10 mx1.lab.test", "20 mx2.lab.test"])

    def test_wrong_id_ignored(self):
        # Every answer carries a wrong ID: accepting none of them means a timeout.
        r = self.assert_domain_failed("wrong-id.f.test", ("TIMEOUT",))
        self.assertEqual(r["status"], "TIMEOUT")
        self.assert_exchange_failed("xwrong-id.f.test")

    def test_wrong_question_ignored(self):
        r = self.assert_domain_failed("wrong-question.f.test", ("TIMEOUT",))
        self.assertEqual(r["status"], "TIMEOUT")
        self.assert_exchange_failed("xwrong-question.f.test")

    def test_malformed(self):
        self.assert_domain_failed("malformed.f.test")
        self.assert_exchange_failed("xmalformed.f.test")

    def test_oversize(self):
        self.assert_right_or_failed("oversize.f.test", False)
        self.assert_right_or_failed("xoversize.f.test", True)

    def test_compression_loop(self):
        self.assert_domain_failed("compression-loop.f.test")
        # A/AAAA answers whose owner name is a compression loop are garbage,
        # not "no address": mx_lookup_failed, never mx_no_address/broken.
        self.assert_exchange_failed("xcompression-loop.f.test")

    def test_foreign_records(self):
        r = self.row("foreign-records.f.test")
        self.assertNotIn("foreign", r["mx"], r)
        self.assertNotIn("mail.invalid", r["mx"], r)
        self.assertNotIn("192.0.2.53", r["mx_addresses"], "spoofed additional record used: %r" % r)
        self.assertNotEqual(r["mail_status"], "ok", "records of another owner accepted: %r" % r)
        x = self.row("xforeign-records.f.test")
        addrs = x["mx_addresses"]
        self.assertNotIn("192.0.2.53", addrs, "spoofed additional record used: %r" % x)
        self.assertNotIn("192.0.2.77", addrs, "records of another owner accepted: %r" % x)
        self.assertNotEqual(x["mail_status"], "ok", x)

    def test_flap_retry_succeeds(self):
        # The first answer is SERVFAIL, the next ones are right: a retry succeeds.
        r = self.row("flap.f.test")
        self.assertEqual((r["status"], r["mx"], r["mail_status"]), ("NOERROR", RIGHT_MX, "ok"),
                         "SERVFAIL once, then fine (flap 1), --retries 2: %r" % r)

    def test_flap_retry_next_resolver(self):
        with FaultDNS(fault_zone()) as dns:
            res = run_scan(dns.addr + "," + dns.addr, "-", ["-"], stdin=b"flap2.f.test\n",
                           extra=["--timeout", "300", "--retries", "2", "--checks", "mx"])
        self.assertEqual(res.rc, 0, res.describe())
        _, rows = mxtest.parse_csv(res.stdout)
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["status"], rows[0]["mx"]), ("NOERROR", RIGHT_MX), rows[0])


def loss_zone(n):
    """n explicit domains, 200 exchanges, some SPF and DMARC; and the input names."""
    lines = ["*.h.test A 300 192.0.2.30", "*.h.test AAAA 300 2001:db8::30"]
    names = []
    for i in range(n):
        d = "d%d.l.test" % i
        if i % 17 == 0:
            names.append("nx%d.l.test" % i)
            continue
        names.append(d)
        lines.append("%s MX 300 10 mx%d.h.test" % (d, i % 200))
        if i % 5 == 0:
            lines.append("%s MX 300 20 mx%d.h.test" % (d, (i + 1) % 200))
        if i % 3 == 0:
            lines.append('%s TXT 300 "v=spf1 ip4:192.0.2.0/24 -all"' % d)
        if i % 4 == 0:
            lines.append('_dmarc.%s TXT 300 "v=DMARC1; p=reject"' % d)
    return "\n".join(lines) + "\n", names


class LossTests(TempDirCase):
    def test_thirty_percent_loss(self):
        zone, names = loss_zone(2000)
        inp = self.write("in.txt", "".join(n + "\n" for n in names))
        opts = ["--retries", "3", "--timeout", "300", "--rate", "0"]
        clean_out = self.path("clean.csv")
        with FaultDNS(zone) as dns:
            res = run_scan(dns.addr, clean_out, [inp], extra=opts)
            self.assertEqual(res.rc, 0, res.describe())
        lossy_out, st = self.path("lossy.zst"), self.path("lossy.json")
        with FaultDNS(zone, ["--loss", "30", "--seed", "7"]) as dns:
            res = run_scan(dns.addr, lossy_out, [inp], extra=opts + ["--stats", st])
            self.assertEqual(res.rc, 0, res.describe())
            fst = dns.stop()
        self.assertGreater(fst["faults"]["loss"], 0, "faultdns dropped nothing")
        _, clean = read_csv(clean_out)
        _, lossy = read_csv(lossy_out)
        self.assertEqual([r["domain"] for r in clean], names)
        self.assertEqual([r["domain"] for r in lossy], names, "rows lost or reordered under loss")
        self.assertTrue(all(r["status"] in ("NOERROR", "NXDOMAIN") for r in clean))
        stats = mxtest.load_stats(st)
        self.assertEqual(stats["domains"], len(names))
        self.assertGreater(stats["queries"]["retried"], 0)
        self.assertGreaterEqual(stats["queries"]["sent"], fst["queries"] - 5)
        honest_extra = {"domain_lookup_failed", "mx_lookup_failed"}
        differing = 0
        for c, l in zip(clean, lossy):
            if c == l:
                continue
            differing += 1
            what = "\nclean: %r\nlossy: %r" % (c, l)
            lf, cf = set(mxtest.finding_list(l)), set(mxtest.finding_list(c))
            self.assertLessEqual(lf - cf, honest_extra, "loss made up findings" + what)
            if l["status"] != c["status"]:
                self.assertEqual(l["status"], "TIMEOUT", what)
                self.assertIn("domain_lookup_failed", lf, what)
                self.assertEqual(l["mail_status"], "unknown", what)
                continue
            if any(l[k] != c[k] for k in MX_COLS):
                # Either the finding, or (one address family lost while the
                # other answered) the failure written into mx_addresses.
                marked = "mx_lookup_failed" in lf or any(
                    m in l["mx_addresses"] for m in ("TIMEOUT", "SERVFAIL"))
                self.assertTrue(marked, "MX verdict changed without a mark" + what)
                if "mx_lookup_failed" not in lf:
                    self.assertEqual(l["mail_status"], c["mail_status"], what)
                self.assertIn(l["mail_status"], ("unknown", c["mail_status"], "degraded"), what)
                self.assertEqual(l["mx"], c["mx"], "the MX set itself changed" + what)
            if any(l[k] != c[k] for k in SPF_COLS):
                self.assertEqual(l["spf_result"], "temperror", "SPF changed without temperror" + what)
            if any(l[k] != c[k] for k in DMARC_COLS):
                # A failed DMARC look-up must not claim the record is missing
                # or show other data than the zone's.
                self.assertNotIn("dmarc_missing", lf - cf, what)
                # ... and it says so: dmarc_source is lookup_failed.
                self.assertEqual(l["dmarc_source"], "lookup_failed", what)
                for k in DMARC_COLS:
                    if k != "dmarc_source":
                        self.assertIn(l[k], ("", c[k]), what)
        # About 0.8 % of the look-ups fail all 4 tries: some rows must differ
        # (else the comparison above tested nothing), most must not.
        self.assertGreater(differing, 0, "no row affected by 30 % loss: is --loss working?")
        # Most rows are complete despite the loss (4 tries each).
        self.assertLess(differing, len(names) * 0.15, "%d of %d rows differ" % (differing, len(names)))


class HostileInputTests(TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = FaultDNS(mxtest.BASE_ZONE)

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def test_hostile_lines(self):
        rng = random.Random(11)
        garbage = bytes(b for b in rng.randbytes(3000) if b not in (10,))
        lines = [  # (bytes, expected: None = skipped, "ok" = valid neighbour, "bad" = some row)
            (b"\xef\xbb\xbfn0.w.test\r", "ok"),   # BOM + CRLF
            (b"n1.w.test", "ok"),
            (b"a\x00b.w.test", "bad"),
            (b"n2.w.test", "ok"),
            (b"x" * 10240, "bad"),
            (b"n3.w.test", "ok"),
            (b"\xff\xfe\xc3(.w.test", "bad"),
            (b"n4.w.test\r", "ok"),
            (b"     ", None),
            (b"n5.w.test", "ok"),
            (b"\x00\x00\x00", "bad"),
            (b"n6.w.test", "ok"),
            (b'"unterminated,quote', "bad"),
            (b"n7.w.test", "ok"),
            (b'1,"two\r', "bad"),
            (b"n8.w.test", "ok"),
            (b"\xef\xbb\xbfn9.w.test", "bad?"),   # a BOM in the middle of the file
            (b"n10.w.test", "ok"),
            (b"\r", None),
            (b"n11.w.test", "ok"),
            (b",,,,", "bad"),
            (b"n12.w.test", "ok"),
            (b"\x1b[31mred.w.test", "bad"),
            (b"n13.w.test", "ok"),
            (b"\tn14.w.test\t", "ok"),
        ]
        # binary garbage cut into lines
        for chunk in (garbage[i:i + 300] for i in range(0, len(garbage), 300)):
            lines.append((chunk, "garbage"))
            lines.append((b"g%d.w.test" % len(lines), "ok"))
        data = b"\n".join(l for l, _ in lines) + b"\n"
        inp = self.write("hostile.txt", data)
        out = self.path("out.zst")
        st = self.path("st.json")
        res = run_scan(self.dns.addr, out, [inp], extra=["--checks", "mx", "--stats", st])
        mxtest.assert_not_signalled(self, res)
        self.assertEqual(res.rc, 0, res.describe())
        _, rows = read_csv(out)
        self.assertEqual(mxtest.load_stats(st)["domains"], len(rows))
        by_line = {int(r["input_line"]): r for r in rows}
        self.assertEqual(len(by_line), len(rows), "two rows name the same input line")
        expected_rows = 0
        for lineno, (raw, kind) in enumerate(lines, 1):
            stripped = raw.strip(b" \t\r\n\v\f")
            skipped = (not stripped or stripped.startswith(b"#"))
            if kind is None:
                self.assertTrue(skipped)
            if kind == "garbage" and skipped:
                kind = None
            if kind is None:
                self.assertNotIn(lineno, by_line, "blank line %d gave a row" % lineno)
                continue
            expected_rows += 1
            self.assertIn(lineno, by_line, "no row for line %d (%r)" % (lineno, raw[:40]))
            r = by_line[lineno]
            if kind == "ok":
                name = raw.strip().replace(b"\xef\xbb\xbf", b"").decode()
                self.assertEqual((r["domain"], r["status"], r["mail_status"]), (name, "NOERROR", "ok"),
                                 "line %d" % lineno)
            elif kind == "bad":
                self.assertEqual(r["status"], "INVALID", "line %d %r -> %r" % (lineno, raw[:40], r))
                self.assertIn("domain_invalid_name", mxtest.finding_list(r))
        self.assertEqual(len(rows), expected_rows)
        self.assertEqual([int(r["input_line"]) for r in rows], sorted(by_line))
        # valid neighbours, in order
        oks = [r["domain"] for r in rows if r["status"] == "NOERROR"]
        want = [raw.strip().replace(b"\xef\xbb\xbf", b"").decode() for raw, k in lines if k == "ok"]
        for w in want:
            self.assertIn(w, oks)
        self.assertEqual([d for d in oks if d in want], want)

    def test_nul_bytes_and_long_lines_on_stdin(self):
        data = b"n1.w.test\n" + b"\x00" * 5000 + b"\nn2.w.test\n" + b"y" * 100000 + b"\nn3.w.test"
        res = run_scan(self.dns.addr, "-", ["-"], stdin=data, extra=["--checks", "mx"])
        mxtest.assert_not_signalled(self, res)
        self.assertEqual(res.rc, 0, res.describe())
        _, rows = mxtest.parse_csv(res.stdout)
        self.assertEqual(len(rows), 5)
        self.assertEqual([rows[i]["domain"] for i in (0, 2, 4)], ["n1.w.test", "n2.w.test", "n3.w.test"])
        self.assertEqual([rows[i]["status"] for i in (1, 3)], ["INVALID", "INVALID"])
        for r in rows:
            self.assertLessEqual(len(r["domain"]), 16384, "an over-long line copied whole into the CSV")

    def check_truncated(self, tool):
        # Four separately compressed parts (zstd frames / gzip members), cut
        # in the middle of the third: the first two parts are intact.
        part = 5000
        names = ["t%d.w.test" % i for i in range(4 * part)]
        comp = b""
        sizes = []
        for k in range(4):
            data = "".join(x + "\n" for x in names[k * part:(k + 1) * part]).encode()
            p = self.path("part%d" % k)
            mxtest.compress(data, p, tool)
            with open(p, "rb") as f:
                c = f.read()
            sizes.append(len(c))
            comp += c
        cut_at = sizes[0] + sizes[1] + sizes[2] // 2
        cut = self.write("cut-input." + ("zst" if tool == "zstd" else "gz"), comp[:cut_at])
        out = self.path("out.zst")
        res = run_scan(self.dns.addr, out, [cut], extra=["--checks", "mx", "--rate", "0"])
        mxtest.assert_not_signalled(self, res)
        self.assertEqual(res.rc, 1, "truncated %s input: %s" % (tool, res.describe()))
        err = res.stderr.decode("utf-8", "replace")
        self.assertIn("cut-input", err, "the message does not name the damaged file")
        _, rows = read_csv(out)
        got = [r["domain"] for r in rows]
        # ... and the last complete line read (the rows written end there).
        self.assertIn("line %d of" % len(got), err, "the message does not name the line")
        # Complete rows before the damage, in order, nothing invented.
        self.assertEqual(got, names[: len(got)], "rows of the damaged file are not a clean prefix")
        self.assertGreaterEqual(len(got), 2 * part, "rows of the intact parts are missing")
        self.assertLess(len(got), 3 * part)
        self.assertTrue(all(r["status"] == "NOERROR" for r in rows), "a partial line became a row")

    def test_truncated_zst(self):
        self.check_truncated("zstd")

    def test_truncated_gz(self):
        self.check_truncated("gzip")


class DyingResolverTests(TempDirCase):
    def test_watchdog_stop_and_resume(self):
        # 14,000 names at --rate 2000; the resolver goes silent after 8,000
        # queries (about 4 s, longer than the watchdog's roll-back margin of
        # timeout x tries + 2 s, so some rows are kept), leaving >= 3 s of
        # work: the watchdog must stop after 3 bad seconds.
        n = 14000
        names = ["k%d.w.test" % i for i in range(n)]
        inp = self.write("in.txt", "".join(x + "\n" for x in names))
        common = ["--checks", "mx", "--checkpoint-interval", "1"]
        ref = self.path("ref.zst")
        with FaultDNS(mxtest.BASE_ZONE) as dns:
            res = run_scan(dns.addr, ref, [inp], extra=common + ["--rate", "0"])
            self.assertEqual(res.rc, 0, res.describe())
        out = self.path("out.zst")
        wd = ["--watchdog-stop", "3", "--watchdog-backoff", "1", "--timeout", "200", "--retries", "1"]
        with FaultDNS(mxtest.BASE_ZONE + "die.test die-after 8000\n") as dns:
            res = run_scan(dns.addr, out, [inp], extra=common + wd + ["--rate", "2000"])
            fst = dns.stop()
        mxtest.assert_not_signalled(self, res)
        self.assertEqual(res.rc, 3, "resolver died: expected the watchdog stop: " + res.describe())
        self.assertGreater(fst["faults"]["died"], 0)
        self.assertTrue(os.path.exists(out + ".ckpt"), "no checkpoint beside the output")
        self.assertLess(res.elapsed, 30, "the watchdog took too long to stop")
        # The rows kept so far are a clean prefix without failure rows from
        # the dead period (resuming must redo those, not keep TIMEOUT rows).
        _, prow = read_csv(out)
        self.assertGreater(len(prow), 0, "no rows kept from the healthy first seconds")
        self.assertEqual([r["domain"] for r in prow], names[: len(prow)])
        self.assertTrue(all(r["status"] == "NOERROR" for r in prow),
                        "rows from the dead period were kept: %r" %
                        [r["domain"] for r in prow if r["status"] != "NOERROR"][:5])
        self.assertLess(len(prow), n)
        with FaultDNS(mxtest.BASE_ZONE) as dns:
            res = run_scan(dns.addr, out, [inp], extra=common + wd + ["--rate", "0", "--resume"])
        self.assertEqual(res.rc, 0, res.describe())
        self.assertEqual(mxtest.decompress(out), mxtest.decompress(ref),
                         "resumed output differs from an uninterrupted scan")


if __name__ == "__main__":
    mxtest.main()

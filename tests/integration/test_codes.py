#!/usr/bin/env python3
"""integration.codes: one list of finding codes.

include/mx/findings.h is the only list of the finding codes (SPEC section
2): the scanner is built from it, and datasets/mxcodes.py parses it for the
lab generator and every Python test. Checked here: the codes a built mxscan
writes into its statistics (every code, zeros included, in the table's
order) are the parsed ones; the parse has one row per X( entry; a damaged
table is an error, never a shorter list; the generator and the tests use
the parsed list, and no test keeps a copy of it.

usage: test_codes.py --mxscan BIN --faultdns BIN [--source DIR]
"""
import os
import re

import mxtest
import mxcodes
import genlab


class Codes(mxtest.TempDirCase):
    def built_codes(self):
        """The finding codes of the statistics JSON of an empty scan."""
        inp = self.write("empty.txt", "# no names\n")
        st = self.path("stats.json")
        # a scan probes its resolver first (. SOA), so one must answer
        with mxtest.FaultDNS("example. A 60 192.0.2.1\n") as dns:
            res = mxtest.run_scan(dns.addr, self.path("out.csv"), [inp], extra=["--stats", st])
        self.assertRc(res, 0)
        findings = mxtest.load_stats(st)["findings"]
        self.assertTrue(all(v == 0 for v in findings.values()), findings)
        return list(findings)

    def header_text(self):
        with open(mxcodes.HEADER, encoding="utf-8") as f:
            return f.read()

    def test_parse_is_the_built_table(self):
        built = self.built_codes()
        self.assertEqual(mxcodes.CODES, built)
        self.assertEqual(len(mxcodes.CODES), mxcodes.count_rows())
        header = os.path.join(mxtest.SOURCE, "include", "mx", "findings.h")
        self.assertEqual(os.path.realpath(mxcodes.HEADER), os.path.realpath(header))

    def test_rows(self):
        for f in mxcodes.FINDINGS:
            self.assertIn(f.severity, ("error", "warn", "info"), f)
            self.assertEqual(f.label.upper(), f.enum)
            for text in (f.why, f.fix):
                self.assertRegex(text, r"^\S.{10,}\.$", "%s: why/fix text %r" % (f.label, text))
        # default checks first, then the opt-in ones, each code once
        self.assertEqual(mxcodes.DEFAULT_CODES + mxcodes.OPT_IN_CODES, mxcodes.CODES)
        self.assertTrue(mxcodes.DEFAULT_CODES and mxcodes.OPT_IN_CODES)
        self.assertEqual(mxcodes.OPT_IN_CODES[0], "smtp_unreachable")

    def test_a_missing_row_is_seen(self):
        """A table without one row parses to a list the binary contradicts."""
        text = self.header_text()
        cut = re.sub(r'\n    X\(MX_NULL, "mx_null", INFO, [^\n]*\n[^\n]*\n', "\n", text, count=1)
        self.assertNotEqual(cut, text)
        shorter = mxcodes.parse(cut)
        self.assertNotIn("mx_null", shorter.codes)
        self.assertNotEqual(shorter.codes, self.built_codes())

    def test_a_damaged_row_is_an_error(self):
        text = self.header_text()
        damages = [
            ('"mx_null", INFO,', '"mx_null", INFO'),          # an argument lost
            ('"mx_null", INFO,', '"mx_null", NOTICE,'),       # no such severity
            ('"mx_null", INFO,', '"mx_nul", INFO,'),          # label and enum differ
            ('"mx_null", INFO,', 'mx_null, INFO,'),           # label not a string
            ("#define MX_F_FIRST_OPT_IN MX_F_SMTP_UNREACHABLE", ""),
        ]
        for old, new in damages:
            with self.subTest(damage=new):
                self.assertIn(old, text)
                with self.assertRaises(ValueError):
                    mxcodes.parse(text.replace(old, new, 1))

    def test_generator_and_tests_use_the_table(self):
        self.assertIs(genlab.CODES, mxcodes.CODES)
        self.assertIs(genlab.CODE_ORDER, mxcodes.CODE_ORDER)
        self.assertIs(genlab.SEVERITY, mxcodes.SEVERITY)
        self.assertIs(mxtest.FINDING_CODES, mxcodes.CODES)

    def test_no_test_keeps_a_copy(self):
        """No Python file under tests/ names more than a quarter of the codes
        as string literals: a list of codes comes from mxcodes, not a copy."""
        quoted = re.compile(r"""["']([a-z][a-z0-9_]*)["']""")
        limit = len(mxcodes.CODES) // 4
        seen_files = 0
        for top, _, files in os.walk(os.path.join(mxtest.SOURCE, "tests")):
            for fn in files:
                if not fn.endswith(".py"):
                    continue
                seen_files += 1
                with open(os.path.join(top, fn), encoding="utf-8") as f:
                    named = set(quoted.findall(f.read())) & set(mxcodes.CODES)
                self.assertLessEqual(len(named), limit, "%s names %d codes: %s"
                                     % (os.path.join(top, fn), len(named), sorted(named)))
        self.assertGreater(seen_files, 5)


if __name__ == "__main__":
    mxtest.main(need=("mxscan", "faultdns"))

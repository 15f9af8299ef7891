#!/usr/bin/env python3
"""`mxscan report` (issue 16): one self-contained HTML file with SVG charts.

* a real scan (tests/faultdns) with hostile input lines (<script>, &, quotes,
  control octets) becomes a report whose numbers agree with the rows of the
  results file (mail status, severities, providers, MX TTL buckets, SPF and
  DMARC, the worst domains in order), every name escaped, no script, no
  external reference;
* the report of the shards of a scan (CSV and JSON Lines, zstd) equals the
  report of the whole scan;
* headless Chromium (Debian `chromium`) renders it: every chart's SVG has a
  non-zero size and drawn bars, no console message, no error event, no CSP
  violation, no resource loaded (host resolution disabled as well); the
  screenshot is kept in --workdir;
* --diff with the JSON of `mxscan diff`; the command line's exit statuses.

usage: test_report.py --mxscan PATH --faultdns PATH --workdir DIR
Exit 77 (skip) only when chromium is not installed (scripts/install-deps).
"""
import collections
import html
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402
from mxtest import FaultDNS, TempDirCase, run, run_scan  # noqa: E402

ZONE = mxtest.BASE_ZONE + """\
gmail.test          MX    300 10 aspmx.l.google.com
aspmx.l.google.com  A     300 192.0.2.40
gmail.test          TXT   300 "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.gmail.test   TXT   300 "v=DMARC1; p=quarantine"
lit.test            MX    86400 10 192.0.2.1.
lit.test            MX    86400 20 mx1.lab.test
slow.test           MX    90000 10 mx1.lab.test
dup.test            MX    60 10 mx1.lab.test
dup.test            MX    60 20 mx1.lab.test
_dmarc.w.test       TXT   300 "v=DMARC1; p=none"
"""
NAMES = ["ok.test", "implicit.test", "nullmx.test", "dangling.test", "private.test",
         "gmail.test", "lit.test", "slow.test", "dup.test", "nx.test", "a1.w.test",
         "a2.w.test", "b1.v.test", "b2.v.test"]
# Input lines that are not names: they come back in the domain column.
HOSTILE = [b"<script>alert(1)</script>", b"a&b<i>.test", b"q\"uo'te.test", b"ctl\x01\x7f.test"]
OPTS = ["--timeout", "300", "--retries", "1"]
TTL_BOUNDS = [59, 299, 3599, 86400, 604800]  # README "mxscan report"
TTL_LABELS = ["under 1 minute", "1 to 5 minutes", "5 minutes to 1 hour", "1 hour to 1 day",
              "over 1 day, up to 1 week", "over 1 week"]
CHARTS = ["chart-mail", "chart-severity", "chart-findings", "chart-providers",
          "chart-provider-findings", "chart-ttl", "chart-adoption", "chart-worst"]

# Injected into a copy of the report, before its Content-Security-Policy:
# records error events, CSP violations, console.error calls and loaded
# resources, and after the load measures every chart into a <pre>.
PROBE = """<script>
window.__errs = [];
window.addEventListener('error', function (e) {
  __errs.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || '?'));
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  __errs.push('csp: ' + e.blockedURI);
});
var ce = console.error;
console.error = function () {
  __errs.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  ce.apply(console, arguments);
};
window.addEventListener('load', function () {
  var out = {charts: [], errors: __errs,
             resources: performance.getEntriesByType('resource').map(function (r) { return r.name; })};
  document.querySelectorAll('figure svg').forEach(function (s) {
    var b = s.getBoundingClientRect();
    var bars = Array.prototype.filter.call(s.querySelectorAll('rect'), function (r) {
      var q = r.getBoundingClientRect(); return q.width > 0 && q.height > 0; }).length;
    var texts = Array.prototype.filter.call(s.querySelectorAll('text'), function (t) {
      var q = t.getBoundingClientRect(); return q.width > 0 && q.height > 0; }).length;
    out.charts.push({id: s.parentNode.id, w: b.width, h: b.height, bars: bars, texts: texts});
  });
  var p = document.createElement('pre');
  p.id = 'mxtest-result';
  p.textContent = JSON.stringify(out);
  document.body.appendChild(p);
});
</script>
"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


def chromium_args(extra):
    return [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps", "--hide-scrollbars"] + extra


def figure(page, fid):
    """The <figure id=fid> of the page as an XML element (the report writes
    its figures as well-formed XML)."""
    m = re.search(r'<figure id="%s">.*?</figure>' % re.escape(fid), page, re.S)
    assert m, "no figure %s in the report" % fid
    return ET.fromstring(m.group(0))


def bars(page, fid):
    """{label: count} of a chart: the label text and the value text."""
    fig = figure(page, fid)
    labels = [(t.find("title").text or "") for t in fig.iter("text") if t.get("class") == "lb"]
    values = [int(t.text.split()[0]) for t in fig.iter("text") if t.get("class") == "val"]
    assert len(labels) == len(values), (fid, labels, values)
    return dict(zip(labels, values))


def worst_rows(page):
    m = re.search(r'<table id="worst-table">(.*?)</table>', page, re.S)
    assert m, "no worst-domains table"
    rows = re.findall(r"<tr><td class=\"n\">\d+</td><td>(.*?)</td>", m.group(1))
    return [html.unescape(r) for r in rows]


def score(codes):
    sev = collections.Counter(mxtest.SEVERITY[c] for c in codes)
    if sev["error"] + sev["warn"] == 0:
        return 0
    return 10000 * sev["error"] + 100 * sev["warn"] + sev["info"]


def ttl_bucket(v):
    b = 0
    while b < len(TTL_BOUNDS) and v > TTL_BOUNDS[b]:
        b += 1
    return TTL_LABELS[b]


class Report(TempDirCase):
    @classmethod
    def setUpClass(cls):
        cls.work = os.path.abspath(mxtest.ARGS.workdir)
        os.makedirs(cls.work, exist_ok=True)
        cls.dns = FaultDNS(ZONE)
        cls.input = os.path.join(cls.work, "names.txt")
        with open(cls.input, "wb") as f:
            f.write(b"".join(n.encode() + b"\n" for n in NAMES))
            f.write(b"".join(h + b"\n" for h in HOSTILE))
        cls.csv = os.path.join(cls.work, "all.csv")
        res = run_scan(cls.dns.addr, cls.csv, [cls.input], OPTS)
        assert res.rc == 0, res.describe()
        cls.header, cls.rows = mxtest.read_csv(cls.csv)
        cls.html = os.path.join(cls.work, "report.html")
        res = run(["report", cls.csv, "-o", cls.html, "--top", "1000"])
        assert res.rc == 0, res.describe()
        with open(cls.html, encoding="ascii") as f:
            cls.page = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def test_numbers_agree_with_rows(self):
        n = len(self.rows)
        self.assertEqual(n, len(NAMES) + len(HOSTILE))
        self.assertIn("<tr><th>domains</th><td class=\"n\">%d</td></tr>" % n, self.page)
        mail = collections.Counter(r["mail_status"] for r in self.rows)
        self.assertEqual(bars(self.page, "chart-mail"),
                         {m: mail[m] for m in mxtest.MAIL_STATUSES})
        sev = collections.Counter()
        for r in self.rows:
            for s in {mxtest.SEVERITY[c] for c in mxtest.finding_list(r)}:
                sev[s] += 1
        self.assertEqual(bars(self.page, "chart-severity"),
                         {"error": sev["error"], "warning": sev["warn"], "info": sev["info"]})
        codes = collections.Counter(c for r in self.rows for c in mxtest.finding_list(r))
        self.assertEqual(bars(self.page, "chart-findings"), dict(codes))

    def test_providers_ttl_adoption(self):
        prov = bars(self.page, "chart-providers")
        self.assertIn("google", prov)
        for name, count in prov.items():
            self.assertEqual(count, sum(name in r["providers"].split(";") for r in self.rows))
        ttl = collections.Counter(ttl_bucket(int(r["mx_ttl"])) for r in self.rows if r["mx_ttl"])
        self.assertGreaterEqual(len(ttl), 3, "the zone has TTLs in several buckets")
        self.assertEqual(bars(self.page, "chart-ttl"), {b: ttl[b] for b in TTL_LABELS})
        # the adoption bars: SPF and DMARC rows of every domain
        self.assertEqual(bars(self.page, "chart-adoption"),
                         {"SPF": len(self.rows), "DMARC": len(self.rows)})
        segs = {t.text.split(":")[0]: int(t.text.split(": ")[1].split()[0])
                for t in figure(self.page, "chart-adoption").iter("title") if ": " in (t.text or "")}
        self.assertEqual(segs.get("p=quarantine", 0),
                         sum(r["dmarc_policy"] == "quarantine" for r in self.rows))
        self.assertEqual(segs.get("SPF ok", 0), sum(r["spf_result"] == "ok" for r in self.rows))

    def test_worst_domains_in_order(self):
        scored = [(-score(mxtest.finding_list(r)), r["domain"]) for r in self.rows
                  if score(mxtest.finding_list(r))]
        want = [d for _, d in sorted(scored, key=lambda x: (x[0], x[1].encode()))]
        self.assertGreater(len(want), 3)
        self.assertEqual(worst_rows(self.page), want)
        top = os.path.join(self.work, "top3.html")
        self.assertRc(run(["report", self.csv, "-o", top, "--top", "3"]), 0)
        with open(top) as f:
            self.assertEqual(worst_rows(f.read()), want[:3])

    def test_everything_escaped_nothing_external(self):
        self.assertNotIn("<script", self.page.lower())
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", self.page)
        self.assertIn("a&amp;b&lt;i&gt;.test", self.page)
        self.assertIn("q&quot;uo&#39;te.test", self.page)
        self.assertIn("ctl\\x01\\x7f.test", self.page)  # the CSV's \xHH text, kept as text
        self.assertTrue(self.page.isascii())
        for ref in re.findall(r'(?:src|href|xlink:href|action)\s*=\s*["\']?([^"\' >]*)',
                              self.page, re.I):
            self.fail("the report references %r" % ref)
        self.assertNotRegex(self.page, r"url\(|@import|https?://")
        self.assertIn("default-src 'none'", self.page)

    def test_shards_equal_whole(self):
        parts = []
        for i, fmt in ((1, "csv"), (2, "jsonl"), (3, "csv")):
            out = os.path.join(self.work, "shard%d.%s.zst" % (i, fmt))
            res = run_scan(self.dns.addr, out, [self.input],
                           OPTS + ["--shard", "%d/3" % i, "--format", fmt])
            self.assertRc(res, 0)
            parts.append(out)
        whole = os.path.join(self.work, "whole.html")
        sharded = os.path.join(self.work, "sharded.html")
        self.assertRc(run(["report", self.csv, "-o", whole, "--top", "1000"]), 0)
        self.assertRc(run(["report"] + parts + ["-o", sharded, "--top", "1000"]), 0)

        def body(p):
            with open(p) as f:
                return re.sub(r'<p class="files">\d+ results files?:[^<]*</p>', "", f.read())
        self.assertEqual(body(whole), body(sharded))

    def test_chromium_renders(self):
        if not chromium():
            self.skipTest("chromium not installed")
        probe = os.path.join(self.work, "probe.html")
        with open(probe, "w") as f:
            f.write(self.page.replace("<head>\n", "<head>\n" + PROBE, 1))
        t = 120 * mxtest.timeout_factor()
        p = subprocess.run(chromium_args(["--enable-logging=stderr", "--v=0", "--dump-dom",
                                          "file://" + probe]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=t, text=True)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        console = [ln for ln in p.stderr.splitlines() if "CONSOLE" in ln]
        self.assertEqual(console, [], "console messages while rendering the report")
        m = re.search(r'<pre id="mxtest-result">(.*?)</pre>', p.stdout, re.S)
        self.assertTrue(m, "the probe did not run: " + p.stdout[-2000:])
        out = json.loads(html.unescape(m.group(1)))
        self.assertEqual(out["errors"], [])
        self.assertEqual(out["resources"], [])
        self.assertEqual([c["id"] for c in out["charts"]], CHARTS)
        for c in out["charts"]:
            self.assertGreater(c["w"], 100, c)
            self.assertGreater(c["h"], 20, c)
            self.assertGreater(c["bars"], 0, c)
            self.assertGreater(c["texts"], 0, c)
        shot = os.path.join(self.work, "report.png")
        if os.path.exists(shot):
            os.unlink(shot)
        p = subprocess.run(chromium_args(["--window-size=1000,4000", "--screenshot=" + shot,
                                          "file://" + self.html]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=t, text=True)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        print("\nscreenshot of the report: " + shot, file=sys.stderr)

    def test_diff_section(self):
        d = self.path("diff.json")
        with open(d, "w") as f:
            json.dump({"old": "a<b.csv", "new": "new.csv", "domains_old": 10,
                       "changed": {"mail_status": 3, "findings": 5},
                       "changes": [{"domain": "x&y.test", "old": "ok", "new": "broken"}]}, f)
        out = self.path("diff.html")
        self.assertRc(run(["report", "--diff", d, "-o", out]), 0)
        with open(out) as f:
            page = f.read()
        self.assertIn('<section id="diff">', page)
        self.assertIn("a&lt;b.csv", page)
        self.assertIn("x&amp;y.test", page)
        self.assertEqual(bars(page, "chart-diff-0"), {"mail_status": 3, "findings": 5})
        with open(d, "w") as f:
            f.write("[1, 2")
        res = run(["report", "--diff", d, "-o", out])
        self.assertRc(res, 1)
        self.assertIn(b"mxscan diff", res.stderr)

    def test_diff_section_from_mxscan_diff(self):
        # The summary `mxscan diff` really writes, for a second scan in which
        # two domains changed: every count object of it is drawn as a chart.
        import csv as csvmod
        new = self.path("new.csv")
        rows = [dict(r) for r in self.rows]
        rows[0]["mail_status"] = "broken" if rows[0]["mail_status"] != "broken" else "ok"
        rows[1]["dmarc_policy"] = "reject" if rows[1]["dmarc_policy"] != "reject" else "none"
        with open(new, "w", newline="") as f:
            w = csvmod.DictWriter(f, self.header)
            w.writeheader()
            w.writerows(rows)
        summary = self.path("summary.json")
        self.assertRc(run(["diff", self.csv, new, "--summary", summary]), 0)
        with open(summary) as f:
            want = json.load(f)
        self.assertEqual(want["domains_changed"], 2)
        out = self.path("real-diff.html")
        self.assertRc(run(["report", self.csv, "--diff", summary, "-o", out]), 0)
        with open(out) as f:
            page = f.read()
        sec = page[page.index('<section id="diff">'):]
        sec = sec[:sec.index("</section>")]
        drawn = [bars(page, fid) for fid in re.findall(r'id="(chart-diff-\d+)"', sec)]
        self.assertIn(want["changes"], drawn, "the change counts are not drawn")
        self.assertIn(want["mail_status_moves"], drawn)
        self.assertIn(want["dmarc_policy_moves"], drawn)

    def test_command_line(self):
        self.assertIn(b"report", run(["help"]).stdout)
        res = run(["report", "--help"])
        self.assertRc(res, 0)
        self.assertIn(b"-o, --output", res.stdout)
        self.assertEqual(run(["help", "report"]).stdout, res.stdout)
        out = self.path("r.html")
        self.assertRc(run(["report", self.csv]), 2)  # no -o
        self.assertRc(run(["report", "-o", out]), 2)  # no input
        self.assertRc(run(["report", self.csv, "-o", out, "--top", "x"]), 2)
        self.assertRc(run(["report", self.csv, "-o", out, "--bogus"]), 2)
        res = run(["report", self.path("missing.csv"), "-o", out])
        self.assertRc(res, 1)
        self.assertIn(b"missing.csv", res.stderr)
        self.assertRc(run(["report", self.input, "-o", out]), 1)  # not a results file
        self.assertRc(run(["report", self.csv, "-o", self.path("no/such/dir/r.html")]), 1)
        res = run(["report", self.csv, "-o", "-"])
        self.assertRc(res, 0)
        self.assertTrue(res.stdout.startswith(b"<!DOCTYPE html>"))


if __name__ == "__main__":
    ap = mxtest.arg_parser()
    ap.add_argument("--workdir", required=True)
    mxtest.parse_args(parser=ap)
    if not chromium():
        print("SKIP: chromium is not installed (Debian package chromium; run scripts/install-deps)",
              file=sys.stderr)
        sys.exit(77)
    import unittest
    unittest.main(verbosity=2)

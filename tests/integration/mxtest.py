"""Shared helpers for the mxscan integration tests (Python 3 stdlib only).

Every script takes --mxscan PATH and --faultdns PATH (ctest passes both);
the remaining arguments go to unittest. Everything runs on 127.0.0.1.

    FaultDNS(zone_text, extra_args)   a faultdns on a free port (context manager)
    run_scan(args, ...)               runs `mxscan scan` and returns a Result
    read_csv(path)                    (header, rows) of a .zst or .csv result
"""
import argparse
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

MXSCAN = None
FAULTDNS = None

# The 40 finding codes of SPEC section 2, in the SPEC's order: a stable
# interface that research pipelines key on, hard-coded on purpose.
FINDING_CODES = [
    "domain_invalid_name", "domain_nxdomain", "domain_lookup_failed",
    "mx_none_implicit", "mx_none_no_mail", "mx_null", "mx_null_mixed",
    "mx_ip_literal", "mx_target_invalid", "mx_origin_appended", "mx_localhost",
    "mx_cname", "mx_nxdomain", "mx_no_address", "mx_lookup_failed",
    "mx_private_address", "mx_all_unusable", "mx_duplicate", "mx_pref_all_equal",
    "mx_backup_preferred", "mx_same_addresses", "mx_ttl_high",
    "spf_missing", "spf_multiple", "spf_syntax", "spf_include_broken",
    "spf_lookup_limit", "spf_void_limit", "spf_pass_all", "spf_no_enforcement",
    "spf_mx_not_covered",
    "dmarc_missing", "dmarc_invalid", "dmarc_none", "dmarc_enforced_without_spf",
    "provider_mismatch",
    "smtp_unreachable", "smtp_host_unreachable", "smtp_rejects_domain",
    "smtp_no_starttls",
]
STATUSES = ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT", "INVALID"]
MAIL_STATUSES = ["ok", "degraded", "broken", "implicit", "no_mail", "nxdomain",
                 "unknown", "invalid"]
REQUIRED_COLUMNS = ["domain", "status", "mail_status", "mx", "findings"]

# The lab's "public" hosts use the documentation ranges.
ALLOW = "192.0.2.0/24,198.51.100.0/24,203.0.113.0/24,2001:db8::/32"

# A base zone used by several tests. `*.w.test` answers any name with a
# usable MX, so large inputs need no large zone.
BASE_ZONE = """\
mx1.lab.test     A     300 192.0.2.10
mx1.lab.test     AAAA  300 2001:db8::10
mx2.lab.test     A     300 192.0.2.11
ok.test          MX    300 10 mx1.lab.test
ok.test          MX    300 20 mx2.lab.test
ok.test          TXT   300 "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.ok.test   TXT   300 "v=DMARC1; p=reject"
implicit.test    A     300 192.0.2.20
nullmx.test      MX    300 0 .
dangling.test    MX    300 10 gone.lab.test
private.test     MX    300 10 priv.lab.test
priv.lab.test    A     300 10.1.2.3
*.w.test         MX    300 10 mx1.lab.test
*.v.test         MX    300 10 mx1.lab.test
*.v.test         MX    300 20 mx2.lab.test
"""


def parse_args():
    """Consumes --mxscan/--faultdns from sys.argv; leaves the rest to unittest."""
    global MXSCAN, FAULTDNS
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--mxscan", default=os.environ.get("MXSCAN"))
    ap.add_argument("--faultdns", default=os.environ.get("FAULTDNS"))
    ns, rest = ap.parse_known_args()
    if not ns.mxscan or not ns.faultdns:
        sys.exit("usage: %s --mxscan PATH --faultdns PATH [unittest args]" % sys.argv[0])
    MXSCAN = os.path.abspath(ns.mxscan)
    FAULTDNS = os.path.abspath(ns.faultdns)
    for p in (MXSCAN, FAULTDNS):
        if not os.access(p, os.X_OK):
            sys.exit("not executable: " + p)
    sys.argv = [sys.argv[0]] + rest


def main():
    parse_args()
    unittest.main(verbosity=2)


def timeout_factor():
    """Generous slack for sanitizer builds (ASan is several times slower)."""
    try:
        return float(os.environ.get("MX_TEST_SLOWDOWN", "1"))
    except ValueError:
        return 1.0


class FaultDNS:
    """faultdns on 127.0.0.1 with a free port; stop() returns its stats."""

    def __init__(self, zone, args=(), workdir=None, name="faultdns"):
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="mxfdns-")
        self.zone_path = os.path.join(self.dir, name + ".zone")
        self.stats_path = os.path.join(self.dir, name + ".stats.json")
        self.err_path = os.path.join(self.dir, name + ".stderr")
        with open(self.zone_path, "w") as f:
            f.write(zone)
        if os.path.exists(self.stats_path):
            os.unlink(self.stats_path)
        self.errf = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [FAULTDNS, "--listen", "127.0.0.1:0", "--zone", self.zone_path,
             "--stats", self.stats_path] + list(args),
            stdout=subprocess.PIPE, stderr=self.errf, text=True)
        self.port = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            parts = line.split()
            if parts[:1] == ["listen"] and len(parts) == 3:
                self.port = int(parts[2])
            if line.strip() == "ready":
                break
        if self.port is None:
            self.proc.kill()
            self.proc.wait()
            self.errf.close()
            with open(self.err_path) as f:
                raise RuntimeError("faultdns did not start: " + f.read())
        self.stats = None

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def snapshot(self):
        """Current stats without stopping (SIGUSR1)."""
        mtime = os.stat(self.stats_path).st_mtime_ns if os.path.exists(self.stats_path) else None
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.path.exists(self.stats_path):
                st = os.stat(self.stats_path).st_mtime_ns
                if st != mtime:
                    break
            time.sleep(0.02)
        with open(self.stats_path) as f:
            return json.load(f)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.errf.close()
        if self.stats is None and os.path.exists(self.stats_path):
            with open(self.stats_path) as f:
                self.stats = json.load(f)
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.stats

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Result:
    def __init__(self, args, rc, stdout, stderr, elapsed):
        self.args, self.rc, self.stdout, self.stderr = args, rc, stdout, stderr
        self.elapsed = elapsed

    def describe(self):
        err = self.stderr.decode("utf-8", "replace") if isinstance(self.stderr, bytes) else self.stderr
        return "mxscan %s -> rc %s\nstderr:\n%s" % (" ".join(self.args), self.rc, err[-3000:])


def scan_args(resolver=None, output=None, extra=(), inputs=(), quiet=True, allow=True):
    args = ["scan"]
    if resolver:
        args += ["-r", resolver]
    if output:
        args += ["-o", output]
    if quiet:
        args.append("-q")
    if allow:
        args += ["--allow-address", ALLOW]
    args += list(extra)
    args += list(inputs)
    return args


def run(args, stdin=None, timeout=300):
    """Runs mxscan with args; stdin is bytes or None. Never raises on rc."""
    t0 = time.monotonic()
    p = subprocess.run([MXSCAN] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout * timeout_factor(),
                       stdin=None if stdin is not None else subprocess.DEVNULL)
    return Result(list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def run_scan(resolver, output, inputs, extra=(), stdin=None, timeout=300, allow=True):
    return run(scan_args(resolver, output, extra, inputs, allow=allow), stdin=stdin, timeout=timeout)


def start_scan(resolver, output, inputs, extra=(), quiet=True, allow=True):
    """Popen of a scan (for signal tests); stderr to a pipe."""
    return subprocess.Popen([MXSCAN] + scan_args(resolver, output, extra, inputs, quiet=quiet, allow=allow),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def decompress(path):
    """Raw CSV bytes of a result file (.csv plain, anything else via zstd -dc)."""
    if path.endswith(".csv"):
        with open(path, "rb") as f:
            return f.read()
    p = subprocess.run(["zstd", "-dc", "-q", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise AssertionError("zstd -dc %s failed: %s" % (path, p.stderr.decode("utf-8", "replace")))
    return p.stdout


def parse_csv(data):
    """(header, list of dict rows) from CSV bytes, strict RFC 4180 parsing."""
    text = data.decode("utf-8")
    rd = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = list(rd)
    if not rows:
        raise AssertionError("empty CSV (no header)")
    header = rows[0]
    out = []
    for i, r in enumerate(rows[1:], 2):
        if len(r) != len(header):
            raise AssertionError("CSV record %d has %d fields, header has %d: %r" % (i, len(r), len(header), r))
        out.append(dict(zip(header, r)))
    return header, out


def read_csv(path):
    return parse_csv(decompress(path))


def compress(data, path, tool):
    """Writes data compressed with the `zstd` or `gzip` CLI to path."""
    p = subprocess.run([tool, "-c"], input=data, stdout=subprocess.PIPE, check=True)
    with open(path, "wb") as f:
        f.write(p.stdout)
    return path


def load_stats(path):
    with open(path) as f:
        return json.load(f)


def assert_not_signalled(tc, res):
    rc = res.rc if isinstance(res, Result) else res
    tc.assertGreaterEqual(rc, 0, "mxscan died from signal %d" % -rc if rc < 0 else "")


def finding_list(row):
    return [c for c in row["findings"].split(";") if c]


class TempDirCase(unittest.TestCase):
    """A TestCase with self.tmp, a fresh directory per test."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mxit-")

    def tearDown(self):
        if os.environ.get("MX_TEST_KEEP"):
            sys.stderr.write("kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return p

    def assertRc(self, res, rc):
        self.assertEqual(res.rc, rc, res.describe())


# ---- JSON Lines and statistics helpers (issue 12: outputs) ----

# Statistics keys that describe the run rather than the rows: they may
# differ between an uninterrupted scan and an interrupted one resumed.
STATS_PER_RUN = ("started", "ended", "elapsed_seconds", "domains_this_run",
                 "domains_per_second", "resumed", "queries", "cache")


def read_jsonl(path):
    """The objects of a JSON Lines result (.jsonl plain, anything else via zstd -dc)."""
    if path.endswith(".jsonl"):
        with open(path, "rb") as f:
            data = f.read()
    else:
        data = decompress(path)
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def _host_text(name, h):
    """One entry of the mx_addresses column from a JSON host (README)."""
    failed = [(t, h[t]) for t in ("a", "aaaa") if h[t] not in (None, "NOERROR", "NXDOMAIN")]
    text = name + (">CNAME=" if h["cname"] else "=")
    if h["addresses"]:
        text += ",".join(h["addresses"])
        if failed:
            text += ",%s:%s" % (failed[0][0].upper(), failed[0][1])
    elif "NXDOMAIN" in (h["a"], h["aaaa"]):
        text += "NXDOMAIN"
    else:
        text += failed[0][1] if failed else "NODATA"
    return text


def csv_row_of_json(o):
    """The CSV row (column -> text) that a JSON Lines object stands for."""
    def s(v):
        return "" if v is None else str(v)
    hosts, seen = [], set()
    for e in o["mx"]:
        if e["a"] is not None and e["exchange"] not in seen:
            seen.add(e["exchange"])
            hosts.append(_host_text(e["exchange"], e))
    if o["implicit_mx"] is not None:
        hosts.append(_host_text(o["domain"], o["implicit_mx"]))
    spf, dmarc = o["spf"], o["dmarc"]
    return {
        "domain": o["domain"], "status": o["status"], "mail_status": o["mail_status"],
        "mx": ";".join("%d %s" % (e["preference"], e["exchange"]) for e in o["mx"]),
        "findings": ";".join(o["findings"]), "mx_ttl": s(o["mx_ttl"]),
        "mx_addresses": ";".join(hosts), "providers": ";".join(o["providers"]),
        "spf": s(spf["record"]), "spf_result": s(spf["result"]),
        "spf_lookups": s(spf["lookups"]), "spf_voids": s(spf["voids"]),
        "spf_providers": ";".join(spf["providers"]), "dmarc": s(dmarc["record"]),
        "dmarc_policy": s(dmarc["policy"]), "dmarc_source": s(dmarc["source"]),
        "input_line": s(o["input_line"]), "input_file": o["input_file"], "rank": s(o["rank"]),
    }


def stats_of_rows(stats):
    """The statistics without the keys that describe the run (STATS_PER_RUN)."""
    return {k: v for k, v in stats.items() if k not in STATS_PER_RUN}

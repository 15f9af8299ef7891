"""Shared helpers for every Python test of mxscan (Python 3 stdlib only).

Command line (parse_args / main): --mxscan PATH, --faultdns PATH and
--source DIR (default: the checkout this file is in), plus options a test
adds; the remaining arguments go to unittest. Everything runs on loopback.

    SOURCE, MXSCAN, FAULTDNS, ARGS   set by parse_args
    FINDING_CODES, CODE_ORDER, SEVERITY, DEFAULT_CODES, OPT_IN_CODES
                                     the finding table of include/mx/findings.h
                                     (datasets/mxcodes.py): never a copy
    FaultDNS(zone_text, extra_args)  a faultdns on a free port (context manager)
    Lab(workdir, nsd_addr, unbound_addr, size=, seed=, profile=)
                                     the NSD + Unbound lab (scripts/lab) on
                                     ports derived from the pid
    lab_main(size, seed)             main() of a lab test
    run(args) / run_scan(...) / start_scan(...)   mxscan, never raising on rc
    wait_or_fail(tc, popen, timeout, what)         a started process's end
    read_csv(path) / parse_csv(bytes) (header, rows) of a result, strictly
    load_truth(path)                 the lab's truth.csv, strictly
    load_stats(path), read_env(path), decompress(path), compress(...)

Rows are dicts that fail loudly on a missing column (AssertionError naming
the columns there are): a test that reads a column can never pass because
the column disappeared.
"""
import argparse
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
sys.path.insert(0, os.path.join(SOURCE, "datasets"))
sys.path.insert(0, os.path.join(SOURCE, "scripts", "lab.d"))
import mxcodes  # noqa: E402

MXSCAN = None
FAULTDNS = None
ARGS = None

# The finding codes of SPEC section 2, in the table's order, from the one
# list the scanner is built from.
FINDING_CODES = mxcodes.CODES
CODE_ORDER = mxcodes.CODE_ORDER
SEVERITY = mxcodes.SEVERITY
DEFAULT_CODES = mxcodes.DEFAULT_CODES    # what a scan reports (MX, SPF, DMARC)
OPT_IN_CODES = mxcodes.OPT_IN_CODES      # the opt-in checks' codes (SPEC 1.7)
ERROR_CODES = frozenset(c for c in FINDING_CODES if SEVERITY[c] == "error")

STATUSES = ["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", "TIMEOUT", "INVALID"]
MAIL_STATUSES = ["ok", "degraded", "broken", "implicit", "no_mail", "nxdomain",
                 "unknown", "invalid"]
REQUIRED_COLUMNS = ["domain", "status", "mail_status", "mx", "findings"]
TRUTH_COLUMNS = ["domain", "status", "mail_status", "findings"]

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


# ---------------------------------------------------------------- arguments

def arg_parser(description=None, add_help=False):
    """An ArgumentParser with --mxscan, --faultdns and --source; a test adds
    its own options and passes it to parse_args."""
    ap = argparse.ArgumentParser(description=description, add_help=add_help)
    ap.add_argument("--mxscan", default=os.environ.get("MXSCAN"))
    ap.add_argument("--faultdns", default=os.environ.get("FAULTDNS"))
    ap.add_argument("--source", default=SOURCE, help="the checkout (default: this one)")
    return ap


def parse_args(need=("mxscan", "faultdns"), parser=None, unittest_args=True):
    """Parses sys.argv; the tools in `need` must be given and executable.
    With unittest_args, unknown arguments are left in sys.argv for unittest;
    otherwise they are an error. Returns (and keeps in ARGS) the namespace."""
    global MXSCAN, FAULTDNS, ARGS, SOURCE
    ap = parser or arg_parser()
    if unittest_args:
        ns, rest = ap.parse_known_args()
        sys.argv = [sys.argv[0]] + rest
    else:
        ns = ap.parse_args()
    for tool in need:
        path = getattr(ns, tool)
        if not path:
            ap.error("--%s PATH is required" % tool)
        path = os.path.abspath(path)
        if not os.access(path, os.X_OK):
            sys.exit("not executable: " + path)
        setattr(ns, tool, path)
    MXSCAN = ns.mxscan and os.path.abspath(ns.mxscan)
    FAULTDNS = ns.faultdns and os.path.abspath(ns.faultdns)
    SOURCE = os.path.abspath(ns.source)
    ARGS = ns
    return ns


def main(need=("mxscan", "faultdns"), parser=None):
    """parse_args, then unittest.main (exit status 0 only when all passed)."""
    parse_args(need, parser)
    unittest.main(verbosity=2)


def lab_main(size, seed):
    """main() of a lab test: --size/--seed (these defaults), --mxscan, NSD and
    Unbound installed (missing: a failure), then unittest."""
    ap = arg_parser()
    ap.add_argument("--size", type=int, default=size)
    ap.add_argument("--seed", type=int, default=seed)
    parse_args(need=("mxscan",), parser=ap)
    require_lab_tools(skip=False)
    unittest.main(verbosity=2)


def timeout_factor():
    """Generous slack for sanitizer builds (ASan is several times slower)."""
    try:
        return float(os.environ.get("MX_TEST_SLOWDOWN", "1"))
    except ValueError:
        return 1.0


# ---------------------------------------------------------------- ports

def port_free(addr, port):
    """port is free for both UDP and TCP on addr."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pid_port(addr, offset=0):
    """A port free on addr (UDP and TCP), derived from the pid so that
    concurrent test processes start from different ports: the first free one
    from 20000 + (2 * pid + offset) % 40000 on."""
    base = 20000 + (2 * os.getpid() + offset) % 40000
    for i in range(400):
        port = 20000 + (base - 20000 + i) % 40000
        if port_free(addr, port):
            return port
    raise RuntimeError("no free port on %s near %d" % (addr, base))


# ---------------------------------------------------------------- the lab

def lab_tools_missing():
    """The lab's daemons that are not installed (PATH gets the sbin dirs)."""
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [t for t in ("nsd", "unbound", "nsd-checkconf", "unbound-checkconf")
            if not shutil.which(t)]


def require_lab_tools(skip):
    """Exits when NSD or Unbound is missing: 77 (ctest's skip) with skip, 1
    (a failure) otherwise."""
    missing = lab_tools_missing()
    if missing:
        print("%s not installed (scripts/install-deps)%s" % (", ".join(missing),
                                                            ": skipped" if skip else ""))
        sys.exit(77 if skip else 1)


def read_env(path):
    """KEY='value' lines of a lab.env."""
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v.strip("'")
    return env


def policy_lab_run(source, workdir, net, body):
    """Starts the policy lab (scripts/lab.d/policy-lab) in workdir on NET
    (127.X.Y), calls body(env) with its lab.env and stops the lab whatever
    happens. Returns body's status; 77 when the lab cannot run here (a
    package cannot be installed, or no root), 1 when it did not start."""
    lab = os.path.join(source, "scripts", "lab.d", "policy-lab")
    p = subprocess.run([lab, "start", workdir, "--net", net], text=True)
    if p.returncode == 3:
        print("SKIP: the policy lab cannot run here (packages or root missing)")
        return 77
    if p.returncode != 0:
        print("FAIL: policy-lab start exited %d" % p.returncode)
        subprocess.run([lab, "stop", workdir])
        return 1
    try:
        return body(read_env(os.path.join(workdir, "lab.env")))
    finally:
        subprocess.run([lab, "stop", workdir])


def lab_script(*args, check=True, timeout=900):
    """Runs scripts/lab ARGS; returns the CompletedProcess (text output)."""
    r = subprocess.run([os.path.join(SOURCE, "scripts", "lab")] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("scripts/lab %s: exit %d\n%s" % (" ".join(map(str, args)), r.returncode,
                                                          r.stdout[-3000:]))
    return r


class Lab:
    """The lab (scripts/lab): NSD on nsd_addr and Unbound on unbound_addr
    (each test its own pair in 127.0.0.0/8), on ports derived from the pid."""

    def __init__(self, workdir, nsd_addr, unbound_addr, size=1000, seed=1, profile="default"):
        self.dir = workdir
        self.nsd_addr, self.unbound_addr = nsd_addr, unbound_addr
        self.size, self.seed, self.profile = size, seed, profile
        self.nsd_port = pid_port(nsd_addr)
        self.unbound_port = pid_port(unbound_addr, offset=1)
        self.env = {}

    def up_args(self):
        return ["--size", self.size, "--seed", self.seed, "--profile", self.profile,
                "--nsd-addr", self.nsd_addr, "--nsd-port", self.nsd_port,
                "--unbound-addr", self.unbound_addr, "--unbound-port", self.unbound_port]

    def up(self):
        """Starts the lab (generating the population if needed); returns the
        output of scripts/lab."""
        r = lab_script("up", self.dir, *self.up_args())
        self.env = read_env(os.path.join(self.dir, "lab.env"))
        return r.stdout

    def down(self):
        return lab_script("down", self.dir, check=False, timeout=120)

    def status(self):
        return lab_script("status", self.dir, check=False, timeout=60)

    def restart(self):
        """A cold Unbound cache (and NSD): down, then up."""
        self.down()
        return self.up()

    def path(self, name):
        return os.path.join(self.dir, name)

    def names(self):
        """The input lines of names.txt."""
        with open(self.env["LAB_NAMES"], encoding="utf-8") as f:
            return f.read().split("\n")[:-1]

    def truth(self):
        return load_truth(self.env["LAB_TRUTH"])

    def recursive_only(self):
        """Names whose truth holds only through a recursive resolver."""
        with open(self.env["LAB_RECURSIVE_ONLY"], encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}

    def pids(self):
        out = {}
        for n in ("nsd", "unbound"):
            with open(self.path(n + ".pid")) as f:
                out[n] = int(f.read().strip())
        return out

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()


def load_truth(path):
    """truth.csv of a lab population: rows (dicts) of domain, status,
    mail_status and findings; the header and every value are checked."""
    with open(path, encoding="utf-8", newline="") as f:
        header, rows = parse_rows(list(csv.reader(f, strict=True)), path)
    if header != TRUTH_COLUMNS:
        raise AssertionError("%s: header %r, expected %r" % (path, header, TRUTH_COLUMNS))
    for r in rows:
        if r["status"] not in STATUSES or r["mail_status"] not in MAIL_STATUSES:
            raise AssertionError("%s: bad status in %r" % (path, r))
        codes = finding_list(r)
        if [c for c in codes if c not in CODE_ORDER] or \
                codes != sorted(set(codes), key=CODE_ORDER.get):
            raise AssertionError("%s: unknown, repeated or misordered codes in %r" % (path, r))
    return rows


# ---------------------------------------------------------------- faultdns

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
        self.rc = None
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
        """SIGTERM (unless it ended by itself); its exit status lands in rc."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.rc = self.proc.returncode
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


# ---------------------------------------------------------------- mxscan

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
        args += ["--allow-address", ALLOW if allow is True else allow]
    args += list(extra)
    args += list(inputs)
    return args


def run(args, stdin=None, timeout=300, env=None):
    """Runs mxscan with args; stdin is bytes or None. Never raises on rc."""
    t0 = time.monotonic()
    p = subprocess.run([MXSCAN] + [str(a) for a in args], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout * timeout_factor(), env=env,
                       stdin=None if stdin is not None else subprocess.DEVNULL)
    return Result(list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def run_scan(resolver, output, inputs, extra=(), stdin=None, timeout=300, allow=True):
    """allow: True for ALLOW, or the --allow-address list to pass."""
    return run(scan_args(resolver, output, extra, inputs, allow=allow), stdin=stdin, timeout=timeout)


def start_scan(resolver, output, inputs, extra=(), quiet=True, allow=True, env=None,
               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE):
    """Popen of a scan (for signal tests); stderr to a pipe."""
    return subprocess.Popen([MXSCAN] + scan_args(resolver, output, extra, inputs, quiet=quiet,
                                                 allow=allow),
                            stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env)


def sanitizer():
    """'address' or 'thread' when MXSCAN is a sanitizer build, else None
    (their shadow memory makes absolute memory bounds meaningless)."""
    try:
        with open(MXSCAN, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"__asan_init" in data:
        return "address"
    if b"__tsan_init" in data:
        return "thread"
    return None


def wait_until_scanning(p, out, timeout=30):
    """Waits until the scan p writing `out` has made its checkpoint (its
    resolver probe is done and it is about to start: a signal from then on
    is handled as an interrupted scan, not as one that never started)."""
    deadline = time.monotonic() + timeout * timeout_factor()
    while p.poll() is None and not os.path.exists(out + ".ckpt") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)


def wait_or_fail(tc, p, timeout, what):
    """(stdout, stderr) of Popen p once it ends; when it has not ended within
    timeout seconds, kills it and fails tc with `what`."""
    try:
        return p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        tc.fail(what)


# ---------------------------------------------------------------- results

class Row(dict):
    """A CSV row; reading a column the file does not have is a failure."""

    def __missing__(self, key):
        raise AssertionError("no column %r in the results (columns: %s)" % (key, ", ".join(self)))

    def get(self, key, default=None):
        raise TypeError("Row.get(%r): read row[%r], a missing column must fail" % (key, key))


def decompress(path):
    """Raw CSV bytes of a result file (.csv plain, anything else via zstd -dc)."""
    if path.endswith(".csv"):
        with open(path, "rb") as f:
            return f.read()
    p = subprocess.run(["zstd", "-dc", "-q", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise AssertionError("zstd -dc %s failed: %s" % (path, p.stderr.decode("utf-8", "replace")))
    return p.stdout


def parse_rows(records, what="CSV"):
    """(header, Rows) from csv records; every record has the header's width."""
    if not records:
        raise AssertionError("%s: empty (no header)" % what)
    header = records[0]
    out = []
    for i, r in enumerate(records[1:], 2):
        if len(r) != len(header):
            raise AssertionError("%s: record %d has %d fields, header has %d: %r"
                                 % (what, i, len(r), len(header), r))
        out.append(Row(zip(header, r)))
    return header, out


def parse_csv(data):
    """(header, list of Rows) from result CSV bytes, strict RFC 4180 parsing;
    the SPEC's required columns must be there."""
    text = data.decode("utf-8")
    header, rows = parse_rows(list(csv.reader(io.StringIO(text, newline=""), strict=True)))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise AssertionError("results lack the required columns %s (header %r)" % (missing, header))
    return header, rows


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
    row = {
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
    # The opt-in checks' columns follow "cut" in the object, as their CSV text.
    keys = list(o)
    for k in keys[keys.index("cut") + 1:]:
        row[k] = s(o[k])
    return row


def stats_of_rows(stats):
    """The statistics without the keys that describe the run (STATS_PER_RUN)."""
    return {k: v for k, v in stats.items() if k not in STATS_PER_RUN}

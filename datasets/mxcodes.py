"""mxcodes.py - the finding codes of SPEC section 2, read from the scanner's
own table (include/mx/findings.h, the X-macro MX_FINDINGS_MAP), so that the
lab generator and every Python test use the list the C code is built from.
Standard library only.

    CODES          labels in the table's (= the SPEC's) order
    CODE_ORDER     label -> position
    SEVERITY       label -> "error" | "warn" | "info"
    FINDINGS       one Finding(index, enum, label, severity, why, fix, opt_in) a row
    DEFAULT_CODES  what the default checks (MX, SPF, DMARC) can report
    OPT_IN_CODES   what only the opt-in checks report (SPEC 1.7), from
                   MX_F_FIRST_OPT_IN on
    load(path)     the same, parsed from another copy of findings.h

A parse that finds another number of rows than the table has `X(` entries
raises ValueError: a row the parser cannot read is an error, never a code
silently missing from every test.
"""
import collections
import os
import re

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "include", "mx",
                      "findings.h")
HEADER = os.path.normpath(HEADER)

Finding = collections.namedtuple("Finding", "index enum label severity why fix opt_in")
Table = collections.namedtuple("Table", "findings codes order severity default opt_in")

_SEVERITIES = {"ERROR": "error", "WARN": "warn", "INFO": "info"}
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<id>[A-Za-z_][A-Za-z0-9_]*)'
                    r'|(?P<punct>[(),]))', re.S)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "?": "?"}


def _macro_body(text, name):
    """The replacement text of `#define name(...)`, continuation lines joined,
    comments removed."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if re.match(r"\s*#\s*define\s+%s\s*\(" % re.escape(name), line):
            break
    else:
        raise ValueError("no #define %s in the header" % name)
    body = []
    while True:
        line = lines[i]
        cont = line.rstrip().endswith("\\")
        body.append(line.rstrip()[:-1] if cont else line)
        i += 1
        if not cont or i == len(lines):
            break
    joined = "\n".join(body)
    joined = re.sub(r"/\*.*?\*/", " ", joined, flags=re.S)
    return joined.split(")", 1)[1]     # after the macro's parameter list


def _c_string(lit):
    out, s, i = [], lit[1:-1], 0
    while i < len(s):
        if s[i] == "\\":
            if s[i + 1] not in _ESCAPES:
                raise ValueError("escape %r not handled in %s" % (s[i:i + 2], lit))
            out.append(_ESCAPES[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _tokens(body):
    pos, out = 0, []
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        m = _TOKEN.match(body, pos)
        if not m:
            raise ValueError("cannot read the table near %r" % body[pos:pos + 40])
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _rows(tokens):
    """X(ENUM, "label", SEV, "why" "why...", "fix" "fix...") -> lists of args,
    adjacent string literals concatenated as C does."""
    rows, i = [], 0
    while i < len(tokens):
        if tokens[i] != ("id", "X") or tokens[i + 1] != ("punct", "("):
            raise ValueError("expected X( at token %d: %r" % (i, tokens[i:i + 3]))
        i += 2
        args, cur = [], []
        while tokens[i] != ("punct", ")"):
            kind, val = tokens[i]
            if (kind, val) == ("punct", ","):
                args.append(cur)
                cur = []
            else:
                cur.append((kind, val))
            i += 1
        args.append(cur)
        i += 1
        rows.append(args)
    return rows


def _arg_id(arg, what):
    if len(arg) != 1 or arg[0][0] != "id":
        raise ValueError("%s is not an identifier: %r" % (what, arg))
    return arg[0][1]


def _arg_str(arg, what):
    if not arg or any(k != "str" for k, _ in arg):
        raise ValueError("%s is not a string literal: %r" % (what, arg))
    return "".join(_c_string(v) for _, v in arg)


def parse(text):
    """The table of one findings.h text."""
    body = _macro_body(text, "MX_FINDINGS_MAP")
    expected = len(re.findall(r"\bX\s*\(", body))
    m = re.search(r"#\s*define\s+MX_F_FIRST_OPT_IN\s+MX_F_([A-Z0-9_]+)", text)
    if not m:
        raise ValueError("no #define MX_F_FIRST_OPT_IN in the header")
    first_opt_in = m.group(1)
    findings, opt_in = [], False
    for n, args in enumerate(_rows(_tokens(body))):
        if len(args) != 5:
            raise ValueError("row %d has %d arguments, not 5: %r" % (n + 1, len(args), args))
        enum = _arg_id(args[0], "enum")
        label = _arg_str(args[1], "label of %s" % enum)
        sev = _arg_id(args[2], "severity of %s" % enum)
        if sev not in _SEVERITIES:
            raise ValueError("severity %s of %s" % (sev, enum))
        if not re.fullmatch(r"[a-z][a-z0-9_]*", label) or label.upper() != enum:
            raise ValueError("label %r does not spell enum %s" % (label, enum))
        opt_in = opt_in or enum == first_opt_in
        findings.append(Finding(n, enum, label, _SEVERITIES[sev], _arg_str(args[3], "why"),
                                _arg_str(args[4], "fix"), opt_in))
    if len(findings) != expected:
        raise ValueError("parsed %d rows, the table has %d X( entries" % (len(findings), expected))
    if not any(f.opt_in for f in findings):
        raise ValueError("MX_F_FIRST_OPT_IN names no row of the table: %s" % first_opt_in)
    codes = [f.label for f in findings]
    if len(set(codes)) != len(codes):
        raise ValueError("a label appears twice in the table")
    return Table(findings, codes, {c: i for i, c in enumerate(codes)},
                 {f.label: f.severity for f in findings},
                 [f.label for f in findings if not f.opt_in],
                 [f.label for f in findings if f.opt_in])


def load(path=HEADER):
    with open(path, encoding="utf-8") as f:
        return parse(f.read())


def count_rows(path=HEADER):
    """The number of X( entries of the table, counted without parsing them."""
    with open(path, encoding="utf-8") as f:
        return len(re.findall(r"\bX\s*\(", _macro_body(f.read(), "MX_FINDINGS_MAP")))


_TABLE = load()
FINDINGS = _TABLE.findings
CODES = _TABLE.codes
CODE_ORDER = _TABLE.order
SEVERITY = _TABLE.severity
DEFAULT_CODES = _TABLE.default
OPT_IN_CODES = _TABLE.opt_in

"""Reference model, names: the SPEC's "valid host name", IP literals, the
organizational domain of the lab's names, and the normalisation of input
lines (SPEC 1.1) for the inputs the lab emits."""
import ipaddress


def label_ok(lab, allow_underscore=False):
    if not 1 <= len(lab) <= 63:
        return False
    if lab[0] == "-" or lab[-1] == "-":
        return False
    for ch in lab:
        if ch.isascii() and (ch.isalnum() or ch == "-"):
            continue
        if allow_underscore and ch == "_":
            continue
        return False
    return True


def host_valid(name, allow_underscore=False):
    """SPEC 'valid host name'; name without trailing dot, lowercase."""
    if not name or len(name) > 253:
        return False
    return all(label_ok(l, allow_underscore) for l in name.split("."))


def is_ipv4_literal(name):
    parts = name.split(".")
    if len(parts) != 4:
        return False
    try:
        ipaddress.IPv4Address(name)
        return True
    except ValueError:
        return False


def is_ipv6_literal(name):
    if ":" not in name:
        return False
    try:
        ipaddress.IPv6Address(name)
        return True
    except ValueError:
        return False


def org_domain(name):
    """PSL default rule for this lab: all lab names (test., google.com, ...)
    have a one-label public suffix, so the organizational domain is the last
    two labels.  Single-label names have none."""
    labels = name.split(".")
    if len(labels) < 2:
        return None
    return ".".join(labels[-2:])


def normalise_input(line):
    """Returns (domain, valid).  Mirrors SPEC 1.1 for the inputs we emit."""
    s = line.strip()
    if s.endswith("."):
        s = s[:-1]
    s = s.lower()
    if not s.isascii():
        try:
            s = ".".join(idna_label(l) for l in s.split("."))
        except ValueError:
            return line.strip(), False
    if not host_valid(s):
        return line.strip(), False
    return s, True


# Non-ASCII characters we use in U-labels: PVALID in IDNA2008, lowercase,
# NFC, and mapped identically by IDNA2003, TR46 and libidn2 defaults.
IDN_OK = set("üöäéèñçåø")


def idna_label(lab):
    if lab.isascii():
        return lab
    for ch in lab:
        if not (ch.isascii() or ch in IDN_OK):
            raise ValueError("not an IDNA2008 label we model: %r" % lab)
    return "xn--" + lab.encode("punycode").decode("ascii")

"""The command line of datasets/genlab.py (see the package's docstring)."""
import argparse

from mxcodes import CODES

from . import __doc__ as DOC
from .generator import Generator
from .profiles import PROFILES
from .stamp import version
from .writers import write_env, write_population


def main(argv=None):
    ap = argparse.ArgumentParser(description=DOC.split("\n\n")[0])
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nsd-addr", default="127.0.0.53")
    ap.add_argument("--nsd-port", type=int, default=5300)
    ap.add_argument("--unbound-addr", default="127.0.0.54")
    ap.add_argument("--unbound-port", type=int, default=5301)
    ap.add_argument("--counts", action="store_true", help="print code counts")
    ap.add_argument("--env-only", action="store_true", help="only (re)write DIR/lab.env")
    ap.add_argument("--rrl", type=int, default=0)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default",
                    help="scenario mix: default, or torture (stresses the engine)")
    ap.add_argument("--version", action="version", version=version(),
                    help="print the population's version stamp (scripts/lab compares it with "
                         "DIR/population.json) and exit")
    a = ap.parse_args(argv)
    env = {"nsd_addr": a.nsd_addr, "nsd_port": a.nsd_port, "unbound_addr": a.unbound_addr,
           "unbound_port": a.unbound_port, "rrl": a.rrl}
    if a.env_only:
        write_env(a.out, env)
        return 0
    if a.size < 200:
        ap.error("--size must be at least 200")
    g = Generator(a.size, a.seed, a.profile).run()
    counts = write_population(g, a.out, env)
    if a.counts:
        for c in CODES:
            print("%-28s %d" % (c, counts[c]))
    return 0

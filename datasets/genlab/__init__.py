"""genlab.py - deterministic MX/SPF/DMARC test-lab population with ground truth.

Usage: genlab.py --size N --seed S --out DIR [--profile default|torture]
                 [--nsd-addr A --nsd-port P --unbound-addr A --unbound-port P]

Writes into DIR:
  zones/*.zone      zone files for NSD (root ".", "test." and lab copies of
                    a few provider zones); zones/zones.list lists them
  names.txt         the population, one input line per line (shuffled)
  truth.csv         domain,status,mail_status,findings - one row per line
  scenarios.csv     debugging aid: line,domain,mx,spf,dmarc scenario names
  queries.jsonl     every question the model asked and the answer it assumed
                    (the self-check replays them against the servers)
  recursive-only.txt domains whose truth assumes a recursive resolver
                    (lame delegations: a non-recursive path sees referrals)
  lab.env           shell variables for tests
  population.json   the parameters, so scripts/lab can skip regeneration

The ground truth comes from a reference model (class Model) that reads the
planted records and applies SPEC.md literally; the scenario builders only
plant records.  Each scenario also states codes it must produce; the
generator aborts if the model disagrees (double entry).
Standard library only; the finding codes come from the scanner's own table
(include/mx/findings.h, through datasets/mxcodes.py).

Modules:
  reference model  names (host names, input lines), dns (the record database
                   and what Unbound answers from it), spf, dmarc, model
                   (a domain's row from SPEC.md)
  scenarios        scenarios (what is planted: the shared infrastructure, one
                   method per MX scenario, SPF and DMARC records), profiles
                   (scenario shares and minimum counts, the torture mix),
                   world (zones, providers, allowed ranges)
  output           generator (allocation, planting, the model run, the input
                   lines), writers (the files above), stamp (the version in
                   population.json), cli (the command line)
"""
import os
import sys

# mxcodes.py (the finding table's reader) sits beside the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mxcodes import CODE_ORDER, CODES, SEVERITY  # noqa: E402

from .cli import main  # noqa: E402
from .generator import Generator  # noqa: E402
from .names import normalise_input  # noqa: E402
from .stamp import version  # noqa: E402

__all__ = ["CODES", "CODE_ORDER", "SEVERITY", "Generator", "main", "normalise_input", "version"]

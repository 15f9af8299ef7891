#!/usr/bin/env python3
"""genlab.py - deterministic MX/SPF/DMARC test-lab population with ground truth.

Usage: genlab.py --size N --seed S --out DIR [--profile default|torture]
                 [--nsd-addr A --nsd-port P --unbound-addr A --unbound-port P]
       genlab.py --version      the population's version stamp

The entry point of the package datasets/genlab/ (its docstring says what
it writes and which module does what). Run as a script, this directory is
sys.path[0], and `import genlab` finds the package: a package directory
takes precedence over a module of the same name.
"""
import sys

from genlab import main

if __name__ == "__main__":
    sys.exit(main())

"""The population's version stamp: a hash of every file the output depends
on (this package, the entry script, mxcodes.py and the finding table it
reads), so that any edit of them makes scripts/lab regenerate a lab."""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = os.path.dirname(HERE)


def sources():
    """The files stamped, as paths relative to datasets/, sorted."""
    pkg = sorted(os.path.join("genlab", f) for f in os.listdir(HERE) if f.endswith(".py"))
    return pkg + ["genlab.py", "mxcodes.py",
                  os.path.join(os.pardir, "include", "mx", "findings.h")]


def version():
    h = hashlib.sha256()
    for rel in sources():
        with open(os.path.join(DATASETS, rel), "rb") as f:
            data = f.read()
        h.update(b"%s\0%d\0" % (rel.encode(), len(data)))
        h.update(data)
    return h.hexdigest()[:16]

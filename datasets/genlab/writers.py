"""Writers: the files of a population directory (names.txt, truth.csv,
scenarios.csv, queries.jsonl, recursive-only.txt, zones/, lab.env,
population.json)."""
import csv
import json
import os

from mxcodes import CODE_ORDER, CODES

from .dns import zone_of
from .names import normalise_input
from .stamp import version
from .world import ALLOW, ZONES


def fq(name):
    return name if name == "." else name.rstrip(".") + "."


def write_population(gen, out, env):
    os.makedirs(os.path.join(out, "zones"), exist_ok=True)
    with open(os.path.join(out, "names.txt"), "w", encoding="utf-8") as f:
        for v, d, *_ in gen.lines:
            f.write(v + "\n")
    counts = {c: 0 for c in CODES}
    with open(os.path.join(out, "truth.csv"), "w", encoding="utf-8", newline="") as f, \
            open(os.path.join(out, "scenarios.csv"), "w", encoding="utf-8", newline="") as g:
        w = csv.writer(f, lineterminator="\n")
        ws = csv.writer(g, lineterminator="\n")
        w.writerow(["domain", "status", "mail_status", "findings"])
        ws.writerow(["line", "domain", "mx", "spf", "dmarc"])
        for v, d, mxs, spfs, dms in gen.lines:
            nd, valid = normalise_input(v)
            if d is None:
                assert not valid, v
                row = [nd, "INVALID", "invalid", "domain_invalid_name"]
                counts["domain_invalid_name"] += 1
            else:
                assert valid and nd == d, (v, nd, d)
                st, mail, codes = gen.truth[d]
                for c in codes:
                    counts[c] += 1
                row = [d, st, mail, ";".join(sorted(codes, key=CODE_ORDER.get))]
            w.writerow(row)
            ws.writerow([v, row[0], mxs, spfs, dms])
    with open(os.path.join(out, "queries.jsonl"), "w") as f:
        for (name, rtype), a in sorted(gen.qlog.items()):
            rrs = ["%d %s" % x if rtype == "MX" else x for x in a.rrs]
            f.write(json.dumps({"name": name, "type": rtype, "rcode": a.rcode,
                                "cname": a.cname, "ttl": a.ttl, "rrs": sorted(rrs)}) + "\n")
    with open(os.path.join(out, "recursive-only.txt"), "w") as f:
        for d in sorted(gen.recursive_only):
            f.write(d + "\n")
    write_zones(gen.lab.db, os.path.join(out, "zones"))
    write_env(out, env)
    with open(os.path.join(out, "population.json"), "w") as f:
        json.dump({"size": gen.size, "seed": gen.seed, "version": version(),
                   "profile": gen.profile,
                   "counts": counts}, f, indent=1, sort_keys=True)
    return counts

def write_zones(db, zdir):
    byzone = {z: [] for z in ZONES}
    for name in sorted(db.rr):
        byzone[zone_of(name)].append(name)
    conf = []
    for z in ZONES:
        fn = (z or "root") + ".zone"
        origin = fq(z) if z else "."
        with open(os.path.join(zdir, fn), "w", encoding="ascii") as f:
            f.write("$TTL 3600\n")
            f.write("%s IN SOA ns1.lab.invalid. hostmaster.lab.invalid. 1 3600 600 86400 300\n" % origin)
            f.write("%s IN NS ns1.lab.invalid.\n" % origin)
            for name in byzone[z]:
                owner = fq(name) if name else "."
                for rtype, rdatas in db.rr[name].items():
                    ttl = db.ttl[(name, rtype)]
                    for rd in rdatas:
                        if rtype == "MX":
                            txt = "%d %s" % (rd[0], fq(rd[1]) if rd[1] else ".")
                        elif rtype == "TXT":
                            txt = '"%s"' % rd.replace("\\", "\\\\").replace('"', '\\"')
                        elif rtype in ("CNAME", "NS"):
                            txt = fq(rd)
                        else:
                            txt = rd
                        f.write("%s %d IN %s %s\n" % (owner, ttl, rtype, txt))
        conf.append((origin, fn))
    with open(os.path.join(zdir, "zones.list"), "w") as f:
        for origin, fn in conf:
            f.write("%s %s\n" % (origin, fn))


def write_env(out, env):
    out = os.path.abspath(out)
    v = {
        "LAB_DIR": out,
        "LAB_NSD_ADDR": env.get("nsd_addr", "127.0.0.53"),
        "LAB_NSD_PORT": str(env.get("nsd_port", 5300)),
        "LAB_UNBOUND_ADDR": env.get("unbound_addr", "127.0.0.54"),
        "LAB_UNBOUND_PORT": str(env.get("unbound_port", 5301)),
        "LAB_ALLOW": ALLOW,
        "LAB_NAMES": os.path.join(out, "names.txt"),
        "LAB_TRUTH": os.path.join(out, "truth.csv"),
        "LAB_RECURSIVE_ONLY": os.path.join(out, "recursive-only.txt"),
        "LAB_RRL": str(env.get("rrl", 0)),
    }
    v["LAB_NSD"] = "%s:%s" % (v["LAB_NSD_ADDR"], v["LAB_NSD_PORT"])
    v["LAB_RESOLVER"] = "%s:%s" % (v["LAB_UNBOUND_ADDR"], v["LAB_UNBOUND_PORT"])
    with open(os.path.join(out, "lab.env"), "w") as f:
        for k in ("LAB_DIR", "LAB_NSD_ADDR", "LAB_NSD_PORT", "LAB_NSD", "LAB_UNBOUND_ADDR",
                  "LAB_UNBOUND_PORT", "LAB_RESOLVER", "LAB_ALLOW", "LAB_NAMES", "LAB_TRUTH",
                  "LAB_RECURSIVE_ONLY", "LAB_RRL"):
            f.write("%s='%s'\n" % (k, v[k]))

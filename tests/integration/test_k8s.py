#!/usr/bin/env python3
"""The Kubernetes Indexed Job of deploy/k8s/mxscan-job.yaml (issue 16).

Debian 12 packages no Kubernetes validator (kubeconform, kubeval), so the
documents are validated (python3-jsonschema) against tests/k8s/
k8s-subset.schema.json: the parts of v1 ConfigMap, batch/v1 Job and the pod
spec the manifest uses, unknown fields refused. Then the meaning:

* an Indexed Job whose MXSCAN_SHARDS equals spec.completions, parallelism
  at most completions;
* the scanner's command, run by sh for every JOB_COMPLETION_INDEX 0..N-1
  with a stand-in mxscan that records its arguments: --shard I/N covers
  1..N once each, outputs distinct, every option one `mxscan scan --help`
  lists, the resolver is the sidecar's interface;
* the Unbound sidecar is a native sidecar (init container, restartPolicy
  Always) running the ConfigMap's unbound.conf from the mounted volume, and
  unbound-checkconf accepts that configuration.

usage: test_k8s.py --mxscan PATH --source DIR
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mxtest  # noqa: E402

import jsonschema  # noqa: E402  (Debian python3-jsonschema)
import yaml  # noqa: E402  (Debian python3-yaml)


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


class K8s(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        src = mxtest.SOURCE
        with open(os.path.join(src, "deploy", "k8s", "mxscan-job.yaml")) as f:
            cls.docs = [d for d in yaml.safe_load_all(f) if d is not None]
        with open(os.path.join(src, "tests", "k8s", "k8s-subset.schema.json")) as f:
            cls.schema = json.load(f)
        kinds = {d.get("kind"): d for d in cls.docs}
        cls.job, cls.cm = kinds.get("Job"), kinds.get("ConfigMap")
        assert cls.job and cls.cm, "the manifest needs a Job and a ConfigMap"
        cls.pod = cls.job["spec"]["template"]["spec"]
        cls.scanner = next(c for c in cls.pod["containers"] if c["name"] == "mxscan")
        cls.sidecar = next(c for c in cls.pod.get("initContainers", []) if c["name"] == "unbound")

    def test_schema(self):
        jsonschema.Draft7Validator.check_schema(self.schema)
        for d in self.docs:
            jsonschema.validate(d, self.schema)
        bad = json.loads(json.dumps(self.job))
        bad["spec"]["template"]["spec"]["containers"][0]["comand"] = ["x"]  # a typo
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(bad, self.schema)

    def test_indexed(self):
        spec = self.job["spec"]
        self.assertEqual(spec["completionMode"], "Indexed")
        n = spec["completions"]
        self.assertGreaterEqual(n, 1)
        self.assertLessEqual(spec.get("parallelism", n), n)
        self.assertEqual(env_of(self.scanner)["MXSCAN_SHARDS"], str(n))

    def sidecar_address(self):
        conf = self.cm["data"]["unbound.conf"]
        m = re.search(r"(?m)^\s*interface:\s*([0-9.]+)@([0-9]+)\s*$", conf)
        self.assertTrue(m, "no interface ADDR@PORT in the sidecar's unbound.conf")
        self.assertTrue(m.group(1).startswith("127."), "the sidecar listens on loopback only")
        return "%s:%s" % (m.group(1), m.group(2))

    def test_sidecar(self):
        self.assertEqual(self.sidecar.get("restartPolicy"), "Always")  # a native sidecar
        self.assertIn("startupProbe", self.sidecar)
        cmd = self.sidecar["command"]
        self.assertEqual(cmd[:2], ["unbound", "-d"])
        conf_path = cmd[cmd.index("-c") + 1]
        mount = next(m for m in self.sidecar["volumeMounts"]
                     if conf_path.startswith(m["mountPath"].rstrip("/") + "/"))
        vol = next(v for v in self.pod["volumes"] if v["name"] == mount["name"])
        self.assertEqual(vol["configMap"]["name"], self.cm["metadata"]["name"])
        self.assertIn(os.path.basename(conf_path), self.cm["data"])
        probe = " ".join(self.sidecar["startupProbe"]["exec"]["command"])
        self.assertIn(self.sidecar_address().replace(":", "/"), probe)
        if shutil.which("unbound-checkconf") or os.path.exists("/usr/sbin/unbound-checkconf"):
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "unbound.conf")
                with open(p, "w") as f:
                    f.write(self.cm["data"]["unbound.conf"])
                r = subprocess.run([shutil.which("unbound-checkconf") or
                                    "/usr/sbin/unbound-checkconf", p],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                self.assertEqual(r.returncode, 0, r.stdout)

    def run_scanner(self, index, d):
        """The scanner's command under sh with a stand-in mxscan; its argv."""
        stub = os.path.join(d, "mxscan")
        with open(stub, "w") as f:
            f.write('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$ARGS_OUT"\n')
        os.chmod(stub, stat.S_IRWXU)
        out = os.path.join(d, "args.%d" % index)
        env = dict(os.environ, PATH=d + ":" + os.environ["PATH"], ARGS_OUT=out,
                   JOB_COMPLETION_INDEX=str(index), **env_of(self.scanner))
        cmd = [c.replace("/study/", d + "/study/") for c in self.scanner["command"]]
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout)
        with open(out) as f:
            return f.read().split("\n")[:-1]

    def test_index_to_shard(self):
        n = self.job["spec"]["completions"]
        resolver = self.sidecar_address()
        helptext = mxtest.run(["scan", "--help"]).stdout.decode()
        shards, outputs = [], set()
        with tempfile.TemporaryDirectory() as d:
            for i in range(n):
                argv = self.run_scanner(i, d)
                self.assertEqual(argv[0], "scan")
                for a in argv:
                    if a.startswith("--"):
                        self.assertIn(a + " ", helptext, "mxscan scan has no option " + a)
                shards.append(argv[argv.index("--shard") + 1])
                self.assertEqual(argv[argv.index("-r") + 1], resolver)
                outputs.add(argv[argv.index("-o") + 1])
                self.assertTrue(os.path.isdir(os.path.join(d, "study", "results")))
        self.assertEqual(shards, ["%d/%d" % (i, n) for i in range(1, n + 1)])
        self.assertEqual(len(outputs), n)


if __name__ == "__main__":
    mxtest.parse_args(need=("mxscan",))
    unittest.main(verbosity=2)

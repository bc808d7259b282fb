"""Checks of the deployment files that need no container engine or cluster:
systemd units verify, the runtime image installs every library the binaries
link, and the rendered Kubernetes overlays keep their invariants."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("COUNSEL_BUILD_DIR", os.path.join(ROOT, "build", "release")))
BINARIES = ["guidance-svc/counsel-guidance", "case-svc/counsel-cases", "gateway/counsel-gateway",
            "deploy/counsel-healthcheck"]


class SystemdTest(unittest.TestCase):
    def test_units_verify(self):
        work = tempfile.mkdtemp()
        try:
            units = []
            for name in ("counsel-guidance", "counsel-cases", "counsel-gateway"):
                text = open(os.path.join(ROOT, "deploy/systemd", f"{name}.service")).read()
                for needed in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                               "RestrictAddressFamilies=", "MemoryMax=", "Restart=on-failure",
                               "ReadWritePaths=/var/lib/counsel", "User=counsel", "UMask=0077"):
                    self.assertIn(needed, text, name)
                # Point ExecStart at the built binaries so that verify can check them.
                for b in BINARIES:
                    text = text.replace(f"/usr/local/bin/{os.path.basename(b)}",
                                        os.path.join(BUILD, b))
                path = os.path.join(work, f"{name}.service")
                open(path, "w").write(text)
                units.append(path)
            gateway = open(units[2]).read()
            self.assertRegex(gateway, r"After=.*counsel-guidance\.service.*counsel-cases\.service")
            out = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                                 text=True)
            problems = [l for l in (out.stdout + out.stderr).splitlines()
                        if "counsel" in l and "user" not in l.lower()]
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertEqual(problems, [])
        finally:
            shutil.rmtree(work)


def package_of(path):
    for candidate in (path, "/usr" + path, path.replace("/usr", "", 1), os.path.realpath(path),
                      "/usr" + os.path.realpath(path)):
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":")[0]
    return None


class ContainerTest(unittest.TestCase):
    def test_runtime_stage_installs_every_linked_library(self):
        libs = set()
        for b in BINARIES:
            out = subprocess.run(["ldd", os.path.join(BUILD, b)], capture_output=True, text=True,
                                 check=True).stdout
            libs |= set(re.findall(r"=> (\S+) ", out))
        needed = {package_of(l) for l in libs} - {None, "libc6"}  # libc6 is in the base image
        dockerfile = open(os.path.join(ROOT, "deploy/container/Dockerfile")).read()
        runtime = dockerfile.split("AS runtime", 1)[1]
        installed = set(re.findall(r"\b(lib[\w.+-]+|zlib1g)\b", runtime.split("&&", 2)[1]))
        self.assertFalse(needed - installed, f"missing from the runtime stage: {needed - installed}")
        self.assertIn("USER 10001", runtime)
        self.assertIn('ENTRYPOINT ["', runtime, "exec form: no shell at run time")

    def test_compose_services_have_health_checks(self):
        doc = yaml.safe_load(open(os.path.join(ROOT, "deploy/container/compose.yaml")))
        for name in ("guidance", "cases", "gateway"):
            self.assertIn("healthcheck", doc["services"][name], name)
            self.assertIn("counsel-healthcheck", doc["services"][name]["healthcheck"]["test"][1])


class KubernetesTest(unittest.TestCase):
    def render(self, overlay):
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            self.fail("kubectl not found: scripts/install-deps.sh installs kubernetes-client")
        out = subprocess.run([kubectl, "kustomize", os.path.join(ROOT, "deploy/k8s/overlays", overlay)],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        return [d for d in yaml.safe_load_all(out.stdout) if d]

    def check(self, overlay, single_writer=True):
        docs = self.render(overlay)
        by = {}
        for d in docs:
            by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        for name in ("gateway", "guidance"):
            self.assertGreaterEqual(by["Deployment"][name]["spec"]["replicas"], 2, name)
            self.assertIn(name, by["HorizontalPodAutoscaler"], name)
            self.assertIn(name, by["PodDisruptionBudget"], name)
        if single_writer:
            cases = by["StatefulSet"]["cases"]
            self.assertEqual(cases["spec"]["replicas"], 1, "one writer")
            self.assertTrue(cases["spec"]["volumeClaimTemplates"])
        for name in ("gateway", "guidance", "cases"):
            self.assertIn(name, by["Service"])
        pods = list(by["Deployment"].values()) + list(by.get("StatefulSet", {}).values())
        for w in pods:
            spec = w["spec"]["template"]["spec"]
            self.assertTrue(spec["securityContext"]["runAsNonRoot"], w["metadata"]["name"])
            for c in spec.get("initContainers", []) + spec["containers"]:
                where = f"{overlay}/{w['metadata']['name']}/{c['name']}"
                for kind in ("requests", "limits"):
                    self.assertIn("cpu", c["resources"][kind], where)
                    self.assertIn("memory", c["resources"][kind], where)
                sc = c["securityContext"]
                self.assertTrue(sc["readOnlyRootFilesystem"], where)
                self.assertFalse(sc["allowPrivilegeEscalation"], where)
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"], where)
            for c in spec["containers"]:
                self.assertIn("grpc", c["readinessProbe"], c["name"])
                self.assertIn("grpc", c["livenessProbe"], c["name"])
            for v in spec["volumes"] if "volumes" in spec else []:
                if "secret" in v:
                    self.assertEqual(v["secret"]["defaultMode"], 0o400, v["name"])
        policies = by["NetworkPolicy"]
        self.assertEqual(policies["default-deny-ingress"]["spec"]["podSelector"], {})
        cases_from = policies["cases-from-gateway"]["spec"]["ingress"][0]["from"]
        self.assertEqual(cases_from, [{"podSelector": {"matchLabels": {"app": "gateway"}}}])
        gw_from = policies["gateway-from-ingress"]["spec"]["ingress"][0]["from"]
        self.assertIn("namespaceSelector", gw_from[0])
        return docs

    def test_dev_overlay(self):
        self.check("dev")

    def test_postgres_overlay(self):
        """Every program replicated on a CloudNativePG cluster: checked here by
        rendering (no cluster runs in the test command)."""
        docs = self.check("postgres", single_writer=False)
        by = {}
        for d in docs:
            by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        self.assertNotIn("StatefulSet", by, "case-svc is no longer a single writer")
        db = by["Cluster"]["counsel-db"]
        self.assertEqual(db["apiVersion"], "postgresql.cnpg.io/v1")
        self.assertEqual(db["spec"]["instances"], 3)
        roles = {r["name"]: r for r in db["spec"]["managed"]["roles"]}
        self.assertEqual(set(roles), {"counsel_cases", "counsel_gateway", "counsel_guidance"})
        for name, role in roles.items():
            self.assertEqual(role["passwordSecret"]["name"],
                             "counsel-db-" + name[len("counsel_"):], name)
            self.assertNotIn("superuser", role)
        sql = " ".join(db["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"])
        self.assertIn("GRANT CREATE ON DATABASE app TO counsel_cases, counsel_gateway, "
                      "counsel_guidance", sql)
        sync = db["spec"]["postgresql"]["synchronous"]
        self.assertGreaterEqual(sync["number"], 1)
        self.assertEqual(sync["dataDurability"], "required")
        self.assertIn("barmanObjectStore", db["spec"]["backup"])
        self.assertEqual(db["spec"]["postgresql"]["parameters"]["log_error_verbosity"], "terse")
        self.assertIn("wal", db["spec"]["backup"]["barmanObjectStore"])
        self.assertEqual(by["ScheduledBackup"]["counsel-db-daily"]["spec"]["cluster"]["name"],
                         "counsel-db")
        for name in ("gateway", "guidance", "cases"):
            deployment = by["Deployment"][name]
            self.assertGreaterEqual(deployment["spec"]["replicas"], 2, name)
            self.assertIn(name, by["PodDisruptionBudget"], name)
            affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
            term = affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
            self.assertEqual(term["labelSelector"]["matchLabels"], {"app": name}, name)
        for name in ("gateway", "cases", "guidance"):
            spec = by["Deployment"][name]["spec"]["template"]["spec"]
            container = spec["containers"][0]
            env = {e["name"]: e["value"] for e in container["env"]}
            # A role of its own (tests/security/test_postgres_roles.py shows
            # what that keeps apart).
            self.assertTrue(env["COUNSEL_DB"].startswith(f"postgresql://counsel_{name}@counsel-db-rw:"),
                            name)
            self.assertNotIn(":", env["COUNSEL_DB"].split("@")[0][len("postgresql://"):],
                             "no password in the URI")
            self.assertEqual(env["PGPASSFILE"], "/pg/pgpass", name)
            self.assertIn("sslmode=verify-full", env["COUNSEL_DB"], "the server's certificate checked")
            self.assertFalse([a for a in container["command"] if a.startswith("--webhook_db=")],
                             "webhooks shared in the database, not a file per pod")
            self.assertFalse([a for a in container["command"] if a.startswith("--db=")], name)
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in spec["volumes"]}
            self.assertEqual(set(mounts.values()), set(volumes), f"{name}: mounts and volumes")
            self.assertEqual(volumes[mounts["/pg"]]["secret"]["secretName"], f"counsel-db-{name}")
        ingress = by["NetworkPolicy"]["counsel-db-from-programs"]["spec"]["ingress"][0]["from"]
        self.assertEqual({f["podSelector"]["matchLabels"].get("app") for f in ingress} - {None},
                         {"cases", "gateway", "guidance"})
        # Each guidance replica imports the shipped content into the shared
        # database (idempotent), not into a file of its own.
        init = by["Deployment"]["guidance"]["spec"]["template"]["spec"]["initContainers"][0]
        env = {e["name"]: e["value"] for e in init["env"]}
        self.assertTrue(env["COUNSEL_DB"].startswith("postgresql://counsel_guidance@counsel-db-rw:"))
        self.assertEqual(env["PGPASSFILE"], "/pg/pgpass")
        self.assertFalse([a for a in init["command"] if a.startswith("--db=")])
        self.assertEqual({m["mountPath"] for m in init["volumeMounts"]} - {"/data"}, {"/pg", "/pg-ca"})

    def test_prod_overlay(self):
        docs = self.check("prod")
        text = yaml.safe_dump_all(docs)
        self.assertNotIn("--reflection=true", text)
        self.assertIn("--reflection=false", text)
        for d in docs:
            self.assertEqual(d["metadata"].get("namespace"), "counsel", d["metadata"]["name"])


if __name__ == "__main__":
    unittest.main()

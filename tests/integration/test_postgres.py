"""case-svc on PostgreSQL, where SQLite cannot go: several replicas on one
database, a replica killed under writes, the server restarted under load,
and a firm moved from its SQLite file. On a PostgreSQL server of this
test's own (tests/tools/postgres_server.sh), since it stops that server."""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "test"))
HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "tools", "postgres_server.sh")
ENV_FILE = os.path.join(tempfile.mkdtemp(prefix="counsel-pgtest-"), "postgres.env")
os.environ["COUNSEL_PG_ENV"] = ENV_FILE
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, HERE)

from counsel_harness import REPO, Cluster, PostgresDatabase, Program, await_condition  # noqa: E402
from test_watch_fanout import Watch  # noqa: E402
from webhook_receiver import Receivers, verify  # noqa: E402

REPLICAS = 3
WRITES_PER_REPLICA = 15


def server(cmd):
    subprocess.run([SERVER, cmd, ENV_FILE], check=True, timeout=120)


def setUpModule():
    server("start")


def tearDownModule():
    server("stop")
    os.rmdir(os.path.dirname(ENV_FILE))


def cases_of(watch):
    """The case of each change a watcher read (its events are named
    cases/{case}/events/{n}); cursors are sealed per answer, so watchers are
    compared by the events they name."""
    return [name.split("/events/")[0] for _, name in watch.events]


class Replicas:
    """A cluster whose case-svc runs REPLICAS times on one PostgreSQL
    database, each replica behind a gateway of its own (the gateways share
    one key database)."""

    def __init__(self, extra_flags=None):
        self.c = Cluster(BUILD, extra_flags, cases_on_postgres=True).__enter__()
        try:
            self.cases = [self.c.programs["cases"]]
            self.gateways = [self.c.programs["gateway"]]
            self.cases_ports = [self.c.cases_port]
            self.http_ports = [self.c.http_port]
            for i in range(1, REPLICAS):
                self.start_replica(i)
        except BaseException:
            self.c.__exit__(None, None, None)
            raise

    def start_replica(self, i, port=0):
        argv = [a if not a.startswith("--listen=") else f"--listen=127.0.0.1:{port}"
                for a in self.c.programs["cases"].argv]
        cases = Program(f"cases{i}", argv, self.c.dir)
        self.c.programs[f"cases{i}"] = cases
        cases_port = cases.port()
        gw_argv = []
        for a in self.c.programs["gateway"].argv:
            if a.startswith("--cases_addr="):
                a = f"--cases_addr=127.0.0.1:{cases_port}"
            elif a.startswith("--listen="):
                a = "--listen=127.0.0.1:0"
            elif a.startswith("--http_listen="):
                a = "--http_listen=127.0.0.1:0"
            gw_argv.append(a)
        gw = Program(f"gateway{i}", gw_argv, self.c.dir)
        self.c.programs[f"gateway{i}"] = gw
        if i < len(self.cases):
            self.cases[i] = cases
        else:
            self.cases.append(cases)
            self.gateways.append(gw)
            self.cases_ports.append(cases_port)
            self.http_ports.append(gw.port("http"))
        return cases

    def kill_and_restart(self, i):
        """kill -9 replica i's case-svc, then start it again on its port."""
        role = "cases" if i == 0 else f"cases{i}"
        prog = self.c.programs[role]
        prog.stop(signal.SIGKILL)
        argv = [a if not a.startswith("--listen=") else f"--listen=127.0.0.1:{self.cases_ports[i]}"
                for a in prog.argv]
        new = Program(role, argv, self.c.dir)
        self.c.programs[role] = new
        self.cases[i] = new
        new.port()

    def close(self):
        self.c.__exit__(None, None, None)

    def create(self, i, key, request_id=None):
        body = {"client": {"id": f"client-{i}", "displayName": "赵六"},
                "leakedData": ["LEAKED_DATA_PHONE"]}
        path = f"/v1/cases?requestId={request_id}" if request_id else "/v1/cases"
        return self.c.http("POST", path, key=key, body=body, port=self.http_ports[i])


class ReplicaFeedTest(unittest.TestCase):
    def test_every_watcher_on_every_replica_sees_every_change_once_in_one_order(self):
        r = Replicas()
        try:
            key = r.c.create_key("firm-r", ["cases.read", "cases.write"], rate=100000)
            # Each live (its first bookmark) before the first write.
            watchers = [Watch(port, key).live() for port in r.http_ports]
            # A first change seen by all: every stream is live before the writers.
            s, marker, _ = r.create(0, key)
            self.assertEqual(s, 200, marker)
            for w in watchers:
                self.assertTrue(w.read_until(lambda w: marker["name"] in cases_of(w)))
            created, lock, errors = [], threading.Lock(), []

            def writer(i):
                for _ in range(WRITES_PER_REPLICA):
                    s, case, _ = r.create(i, key)
                    if s != 200:
                        errors.append((s, case))
                        continue
                    with lock:
                        created.append(case["name"])

            threads = [threading.Thread(target=writer, args=(i,)) for i in range(REPLICAS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(created), REPLICAS * WRITES_PER_REPLICA)
            for w in watchers:
                self.assertTrue(w.read_until(lambda w: set(created) <= set(cases_of(w))),
                                "a watcher's stream ended early")
            feeds = []
            for w in watchers:
                after = [name for _, name in w.events[cases_of(w).index(marker["name"]) + 1:]]
                self.assertEqual(len(after), len(set(after)), "a change seen twice")
                feeds.append(after[:len(created)])
            self.assertEqual(sorted(e.split("/events/")[0] for e in feeds[0]), sorted(created))
            for f in feeds[1:]:
                self.assertEqual(f, feeds[0], "two replicas' watchers saw different orders")
            for w in watchers:
                w.close()
        finally:
            r.close()

    def test_kill_minus_nine_of_a_replica_loses_no_acknowledged_write(self):
        r = Replicas()
        try:
            key = r.c.create_key("firm-k", ["cases.read", "cases.write", "cases.admin"],
                                 rate=100000)
            acked, lock, stop = [], threading.Lock(), threading.Event()

            def writer(i, n):
                k = 0
                while not stop.is_set():
                    k += 1
                    try:
                        s, case, _ = r.create(i, key, request_id=f"r{i}-{n}-{k}")
                    except OSError:
                        continue  # not acknowledged
                    if s == 200:
                        with lock:
                            acked.append(case["name"])

            threads = [threading.Thread(target=writer, args=(i, n))
                       for i in range(REPLICAS) for n in range(2)]
            for t in threads:
                t.start()
            for _ in range(2):
                target = len(acked) + 40
                await_condition(lambda: len(acked) >= target, "writes acknowledged")
                r.kill_and_restart(REPLICAS - 1)
            target = len(acked) + 20
            await_condition(lambda: len(acked) >= target, "writes after the restarts")
            stop.set()
            for t in threads:
                t.join()
            ids = {row[0] for row in r.c.cases_rows("SELECT case_id FROM cases")}
            missing = [a for a in acked if a[len("cases/"):] not in ids]
            self.assertEqual(missing, [], "acknowledged cases lost")
            n_cases = int(r.c.cases_rows("SELECT count(*) FROM cases")[0][0])
            n_created = int(r.c.cases_rows(
                "SELECT count(*) FROM audit_log WHERE action = 'TYPE_CASE_CREATED'")[0][0])
            self.assertEqual(n_cases, n_created, "a case without its audit entry")
            verify = r.c.run("counsel-cases", "audit", "verify", f"--db={r.c.cases_db}",
                             f"--audit_key_file={r.c.audit_key}", check=False)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            self.assertIn("ok firm-k", verify.stdout)
        finally:
            r.close()


class SharedGatewayTest(unittest.TestCase):
    """The gateways' keys, revocations and quotas, shared through PostgreSQL."""

    def test_a_revoked_key_is_refused_by_every_replica(self):
        r = Replicas()
        try:
            key = r.c.create_key("firm-g", ["cases.read"])
            for port in r.http_ports:
                self.assertEqual(r.c.http("GET", "/v1/cases", key=key, port=port)[0], 200)
            r.c.run("counsel-gateway", "keys", "revoke", f"--db={r.c.gateway_db}", key[3:19])
            # Each replica caches a key for at most a second.
            for port in r.http_ports:
                await_condition(lambda: r.c.http("GET", "/v1/cases", key=key, port=port)[0] == 401,
                                f"the gateway on {port} refusing the revoked key", timeout=10)
        finally:
            r.close()

    def test_a_keys_quota_holds_across_replicas(self):
        r = Replicas()
        try:
            rate = 10
            key = r.c.create_key("firm-q", ["cases.read"], rate=rate)
            admitted, lock, stop = [0], threading.Lock(), threading.Event()

            def caller(port):
                while not stop.is_set():
                    if r.c.http("GET", "/v1/cases?pageSize=1", key=key, port=port)[0] == 200:
                        with lock:
                            admitted[0] += 1

            import time
            start = time.monotonic()
            threads = [threading.Thread(target=caller, args=(port,))
                       for port in r.http_ports for _ in range(2)]
            for t in threads:
                t.start()
            # Long enough for the burst to matter little.
            await_condition(lambda: time.monotonic() - start >= 4, "four seconds of calls")
            stop.set()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - start
            allowed = rate + rate * elapsed  # the burst, then the rate
            print(f"quota across {REPLICAS} replicas: {admitted[0]} admitted in {elapsed:.2f} s, "
                  f"{allowed:.0f} allowed", file=sys.stderr)
            self.assertLessEqual(admitted[0], allowed + 1, "more than the key's quota")
            # At least the burst (certain on any machine; the rate's lower
            # bound is TokenBucketsTest's, on an injected clock).
            self.assertGreaterEqual(admitted[0], rate)
        finally:
            r.close()


class ReplicaWebhookTest(Receivers, unittest.TestCase):
    FLAGS = {"cases": {"webhook_allow_http": "true", "webhook_allow_private_targets": "true",
                       "webhook_retry_initial": "100ms", "webhook_retry_max": "400ms",
                       "webhook_timeout": "5s"}}

    @classmethod
    def tearDownClass(cls):
        cls.close_receivers()

    def test_one_subscription_serves_every_replica_once_in_feed_order(self):
        r = Replicas(self.FLAGS)
        try:
            key = r.c.create_key("firm-w", ["cases.read", "cases.write", "cases.admin"],
                                 rate=100000)
            receiver = self.receiver()
            s, hook, _ = r.c.http("POST", "/v1/webhooks", key=key, body={"url": receiver.url},
                                  port=r.http_ports[0])
            self.assertEqual(s, 200, hook)
            # Every replica sees the subscription made through one.
            for port in r.http_ports:
                s, got, _ = r.c.http("GET", f"/v1/{hook['name']}", key=key, port=port)
                self.assertEqual(s, 200, got)
            created = []
            for i in range(REPLICAS):
                for _ in range(5):
                    s, case, _ = r.create(i, key)
                    self.assertEqual(s, 200, case)
                    created.append(case["name"])
            got = receiver.wait(lambda ds: len({d["headers"]["webhook-id"] for d in ds
                                                if 200 <= d["answered"] < 300}) >= len(created))
            accepted = [d for d in got if 200 <= d["answered"] < 300]
            ids = [d["headers"]["webhook-id"] for d in accepted]
            self.assertEqual(len(ids), len(set(ids)), "a change delivered twice")
            for d in accepted:
                self.assertTrue(verify(hook["secret"], d["headers"], d["body"]))
            delivered = [d["json"]["data"]["case"] for d in accepted]
            self.assertEqual(delivered, created, "deliveries out of the feed's order")
        finally:
            r.close()


class GuidanceReplicaTest(unittest.TestCase):
    """Two guidance-svc replicas on one database, each behind a gateway of
    its own: what is imported or published through one, or by the import
    command, the other serves as soon as it commits."""
    CONTENT = os.path.join(REPO, "guidance-svc", "content")
    # Statutes no shipped advice cites, held back to be imported later.
    BY_COMMAND = "data-security"
    BY_CALL = "network-data-security-regulation"

    def test_an_import_or_a_new_revision_reaches_every_replica(self):
        statutes = os.path.join(self.CONTENT, "statutes")
        first = [os.path.join(statutes, d) for d in sorted(os.listdir(statutes))
                 if d not in (self.BY_COMMAND, self.BY_CALL)]
        with Cluster(BUILD, cases_on_postgres=True,
                     guidance_content=first + [os.path.join(self.CONTENT, "advice")]) as c:
            argv = [a if not a.startswith("--listen=") else "--listen=127.0.0.1:0"
                    for a in c.programs["guidance"].argv]
            second = Program("guidance1", argv, c.dir)
            c.programs["guidance1"] = second
            gw_argv = []
            for a in c.programs["gateway"].argv:
                if a.startswith("--guidance_addr="):
                    a = f"--guidance_addr=127.0.0.1:{second.port()}"
                elif a.startswith("--listen=") or a.startswith("--http_listen="):
                    a = a.split("=")[0] + "=127.0.0.1:0"
                gw_argv.append(a)
            gw = Program("gateway1", gw_argv, c.dir)
            c.programs["gateway1"] = gw
            ports = [c.http_port, gw.port("http")]
            key = c.create_key("firm-g", ["guidance.read", "guidance.write"])

            def served(statute, port):
                return c.http("GET", f"/v1/statutes/{statute}", key=key, port=port)[0] == 200

            for port in ports:
                self.assertFalse(served(self.BY_COMMAND, port))
                self.assertFalse(served(self.BY_CALL, port))
            # The import command writes once; both replicas serve it.
            c.run("counsel-guidance", "import", os.path.join(statutes, self.BY_COMMAND),
                  f"--db={c.guidance_db}")
            imported = time.monotonic()
            for port in ports:
                await_condition(lambda: served(self.BY_COMMAND, port),
                                f"replica behind :{port} serving the imported statute", timeout=30)
            # Reported, not asserted: how soon is this machine's business.
            print(f"both replicas served the import {1000 * (time.monotonic() - imported):.0f} ms "
                  "after the command returned", file=sys.stderr)
            s, hits, _ = c.http("GET", "/v1/provisions:search?query=%E6%95%B0%E6%8D%AE%E5%A4%84%E7%90%86"
                                "%E6%B4%BB%E5%8A%A8&statute=statutes/" + self.BY_COMMAND,
                                key=key, port=ports[1])
            self.assertEqual(s, 200, hits)
            self.assertTrue(hits.get("results"), "the other replica searches the new text")
            with open(os.path.join(statutes, self.BY_CALL, "2025-01-01.md"), encoding="utf-8") as f:
                text = f.read()
            # Through both at once: stored once, neither refused.
            answers = [None, None]

            def import_through(i):
                answers[i] = c.http("POST", "/v1/statutes:importVersion", key=key,
                                    body={"content": text, "sourceName": "2025-01-01.md"},
                                    port=ports[i])[:2]

            threads = [threading.Thread(target=import_through, args=(i,)) for i in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual([s for s, _ in answers], [200, 200], answers)
            self.assertEqual(sorted(bool(b.get("created")) for _, b in answers), [False, True],
                             answers)
            # The replica whose import found the text stored serves it by
            # the other's notification.
            for port in ports:
                await_condition(lambda: served(self.BY_CALL, port),
                                f"replica behind :{port} serving the statute imported through both",
                                timeout=30)
            # A revision published through one is the other's current one
            # at once: advice is read from the database on every call.
            name = "advice/privacy-infringement"
            s, revs, _ = c.http("GET", f"/v1/{name}:listRevisions", key=key, port=ports[1])
            self.assertEqual(s, 200, revs)
            oldest = revs["revisions"][-1]["revisionId"]
            s, draft, _ = c.http("GET", f"/v1/{name}@draft", key=key, port=ports[1])
            self.assertEqual(s, 200, draft)
            s, rolled, _ = c.http("POST", f"/v1/{name}:rollback", key=key, port=ports[0],
                                  body={"revisionId": oldest, "changeNote": "恢复首版"})
            self.assertEqual(s, 200, rolled)
            s, now, _ = c.http("GET", f"/v1/{name}", key=key, port=ports[1])
            self.assertEqual((s, now.get("revisionId")), (200, rolled["revisionId"]), now)
            s, after, _ = c.http("GET", f"/v1/{name}:listRevisions", key=key, port=ports[1])
            self.assertEqual(len(after["revisions"]), len(revs["revisions"]) + 1)
            # The draft's etag read before moved on for both replicas.
            s, err, _ = c.http("POST", f"/v1/{name}:publish", key=key, port=ports[1],
                               body={"etag": draft["etag"], "changeNote": "x"})
            self.assertEqual(s, 409, err)
            self.assertEqual(err.get("code"), 10, err)  # ABORTED


class ServerRestartTest(unittest.TestCase):
    def test_calls_fail_fast_while_postgres_is_down_and_recover_without_restarts(self):
        with Cluster(BUILD, cases_on_postgres=True) as c:
            key = c.create_key("firm-p", ["cases.read", "cases.write", "guidance.read"],
                               rate=100000)
            s, case, _ = c.http("POST", "/v1/cases", key=key, body={
                "client": {"displayName": "钱七"}, "leakedData": ["LEAKED_DATA_EMAIL"]})
            self.assertEqual(s, 200, case)
            pids = {role: p.proc.pid for role, p in c.programs.items()}
            server("halt")
            try:
                # Each call answers (no hang until a deadline): UNAVAILABLE.
                for _ in range(3):
                    s, body, _ = c.http("POST", "/v1/cases", key=key, body={
                        "client": {"displayName": "钱七"}, "leakedData": ["LEAKED_DATA_EMAIL"]})
                    self.assertEqual(s, 503, body)
                    s, body, _ = c.http("GET", f"/v1/{case['name']}", key=key)
                    self.assertEqual(s, 503, body)
                    # Statutes are answered from the replica's catalogue;
                    # advice is read from the database.
                    s, body, _ = c.http("GET", "/v1/statutes/personal-information-protection",
                                        key=key)
                    self.assertEqual(s, 200, body)
                    s, body, _ = c.http("GET", "/v1/advice/personal-information-leak", key=key)
                    self.assertEqual(s, 503, body)
            finally:
                server("resume")

            def works():
                s, _, _ = c.http("GET", f"/v1/{case['name']}", key=key)
                s2, _, _ = c.http("POST", "/v1/cases", key=key, body={
                    "client": {"displayName": "钱七"}, "leakedData": ["LEAKED_DATA_EMAIL"]})
                s3, _, _ = c.http("GET", "/v1/advice/personal-information-leak", key=key)
                return s == 200 and s2 == 200 and s3 == 200

            await_condition(works, "calls succeeding again after PostgreSQL came back", timeout=60)
            for role, p in c.programs.items():
                self.assertIsNone(p.proc.poll(), role)
                self.assertEqual(p.proc.pid, pids[role], f"{role} was restarted")


    def test_a_restart_under_concurrent_writes_loses_no_acknowledged_case(self):
        with Cluster(BUILD, cases_on_postgres=True) as c:
            key = c.create_key("firm-q", ["cases.read", "cases.write"], rate=100000)
            pids = {role: p.proc.pid for role, p in c.programs.items()}
            lock = threading.Lock()
            answers = {}  # request id -> (status, case name or None)
            stop = threading.Event()

            def writer(w):
                for n in range(3000):  # bounded, whatever happens
                    if stop.is_set():
                        return
                    rid = f"w{w}-{n}"
                    s, body, _ = c.http("POST", f"/v1/cases?requestId={rid}", key=key, body={
                        "client": {"displayName": "郑十一"}, "leakedData": ["LEAKED_DATA_PHONE"]})
                    with lock:
                        answers[rid] = (s, body.get("name") if s == 200 else None)
                    if s != 200:
                        stop.wait(0.02)  # a client's pause before its next request

            def acknowledged():
                with lock:
                    return sum(1 for s, _ in answers.values() if s == 200)

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            try:
                await_condition(lambda: acknowledged() >= 20, "writes before the restart")
                before = acknowledged()
                server("restart")
                await_condition(lambda: acknowledged() >= before + 20,
                                "writes succeeding again after the restart", timeout=60)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            print(f"{acknowledged()} acknowledged, {len(answers) - acknowledged()} refused "
                  "while the server restarted", file=sys.stderr)
            # Every answer was a success or UNAVAILABLE: nothing hung, nothing
            # answered 500.
            self.assertEqual({s for s, _ in answers.values()} - {200, 503}, set(), answers)
            # Every acknowledged case is there; every refused one, retried
            # with its request id, is created once.
            for rid, (s, name) in sorted(answers.items()):
                if s == 200:
                    self.assertEqual(c.http("GET", f"/v1/{name}", key=key)[0], 200, rid)
                else:
                    s2, body, _ = c.http("POST", f"/v1/cases?requestId={rid}", key=key, body={
                        "client": {"displayName": "郑十一"}, "leakedData": ["LEAKED_DATA_PHONE"]})
                    self.assertEqual(s2, 200, (rid, body))
            (count,), = c.cases_rows("SELECT count(*) FROM cases")
            self.assertEqual(int(count), len(answers))
            for role, p in c.programs.items():
                self.assertEqual(p.proc.pid, pids[role], f"{role} was restarted")


def without_sealed_tokens(value):
    """Page tokens and feed cursors are sealed afresh for every answer."""
    if isinstance(value, dict):
        return {k: without_sealed_tokens(v) for k, v in value.items()
                if k not in ("nextPageToken", "nextCursor", "cursor")}
    if isinstance(value, list):
        return [without_sealed_tokens(v) for v in value]
    return value


class MoveFirmTest(unittest.TestCase):
    PATHS = ["/v1/{case}", "/v1/{case}/evidence", "/v1/{case}/notes", "/v1/{case}/events",
             "/v1/{case}/evidence/{evidence}", "/v1/{case}/evidence/{evidence}:download"]

    def answers(self, c, key, cases, evidence):
        out = {}
        for name in cases:
            for path in self.PATHS:
                if "{evidence}" in path and name not in evidence:
                    continue
                p = path.format(case=name, evidence=evidence.get(name, ""))
                out[p] = c.http("GET", p, key=key)[:2]
        for p in ("/v1/cases?pageSize=50", "/v1/cases?filter=state%3DSTATE_TRIAGED",
                  "/v1/cases:stats", "/v1/changes?pageSize=500", "/v1/statutes?pageSize=50",
                  "/v1/advice", "/v1/advice/privacy-infringement:listRevisions",
                  "/v1/advice/personal-information-leak@draft",
                  "/v1/provisions:search?query=%E4%B8%AA%E4%BA%BA%E4%BF%A1%E6%81%AF&pageSize=20",
                  "/v1/statutes/personal-information-protection/provisions/art_69"):
            s, body = c.http("GET", p, key=key)[:2]
            if isinstance(body, dict):
                body.pop("medianOpenAgeSeconds", None)  # grows with the clock
            out[p] = (s, without_sealed_tokens(body))
        s, body = c.http("POST", "/v1/audit:verify", key=key, body={})[:2]
        out["audit"] = (s, body)
        return out

    def test_a_firm_moves_from_sqlite_with_every_kind_of_record_and_reads_the_same(self):
        with Cluster(BUILD, ReplicaWebhookTest.FLAGS, cases_on_postgres=False) as c:
            key = c.create_key("firm-m", ["cases.read", "cases.write", "cases.pii", "cases.admin",
                                          "guidance.read", "guidance.write"])
            # A revision of the firm's own, beside the shipped ones.
            name = "advice/privacy-infringement"
            s, revs, _ = c.http("GET", f"/v1/{name}:listRevisions", key=key)
            self.assertEqual(s, 200, revs)
            s, rolled, _ = c.http("POST", f"/v1/{name}:rollback", key=key, body={
                "revisionId": revs["revisions"][-1]["revisionId"], "changeNote": "恢复首版"})
            self.assertEqual(s, 200, rolled)
            cases, evidence = [], {}
            s, hook, _ = c.http("POST", "/v1/webhooks", key=key, body={
                "url": "http://127.0.0.1:9/crm", "description": "CRM 同步"})
            self.assertEqual(s, 200, hook)
            for i in range(3):
                s, case, _ = c.http("POST", "/v1/cases", key=key, body={
                    "client": {"id": f"crm-{i}", "displayName": "孙八", "phone": "13912345678",
                               "nationalId": "11010519491231002X"},
                    "externalRef": f"CRM-{i}", "labels": {"office": "north"},
                    "summary": "接到冒充客服电话", "leakedData": ["LEAKED_DATA_PHONE"]})
                self.assertEqual(s, 200, case)
                name = case["name"]
                cases.append(name)
                s, ev, _ = c.http("POST", f"/v1/{name}/evidence", key=key, body={
                    "evidence": {"kind": "KIND_SCREENSHOT", "counterpart": "13800001111",
                                 "summary": "截图", "attachment": {
                                     "filename": "a.png", "contentType": "image/png"}},
                    "chunk": "aGVsbG8gd29ybGQ="})
                self.assertEqual(s, 200, ev)
                evidence[name] = ev["name"].rsplit("/", 1)[1]
                self.assertEqual(c.http("POST", f"/v1/{name}/notes", key=key,
                                        body={"text": f"备注 {i}"})[0], 200)
                self.assertEqual(c.http("POST", f"/v1/{name}:transition", key=key, body={
                    "state": "STATE_TRIAGED", "reason": "核实"})[0], 200)
            s, _, _ = c.http("POST", f"/v1/{cases[2]}:eraseClientData", key=key,
                             body={"reason": "客户要求删除"})
            self.assertEqual(s, 200)
            before = self.answers(c, key, cases, evidence)
            # All answer, but the erased client's attachment (gone with its key).
            self.assertEqual({p: s for p, (s, _) in before.items() if s != 200},
                             {f"/v1/{cases[2]}/evidence/{evidence[cases[2]]}:download": 400})
            for role in ("gateway", "cases", "guidance"):
                c.programs[role].stop()
            dest = PostgresDatabase()
            try:
                moved = c.run("counsel-cases", "migrate", f"--from={c.cases_db}",
                              f"--to={dest.uri}", f"--audit_key_file={c.audit_key}", check=False)
                self.assertEqual(moved.returncode, 0, moved.stderr)
                self.assertIn("cases: 3 rows", moved.stdout)
                self.assertIn("1 tenants' audit chains verify", moved.stdout)
                again = c.run("counsel-cases", "migrate", f"--from={c.cases_db}",
                              f"--to={dest.uri}", f"--audit_key_file={c.audit_key}", check=False)
                self.assertNotEqual(again.returncode, 0)
                self.assertIn("not empty", again.stderr)
                self.assertNotIn("@", again.stderr + moved.stdout, "the URI is not echoed")
                # The gateway's keys and sessions, and the statutes and advice.
                for program, db in (("counsel-gateway", c.gateway_db),
                                    ("counsel-guidance", c.guidance_db)):
                    out = c.run(program, "migrate", f"--from={db}", f"--to={dest.uri}",
                                check=False)
                    self.assertEqual(out.returncode, 0, out.stderr)
                    self.assertIn("moved and checked", out.stdout)
                    self.assertNotIn("@", out.stdout + out.stderr, "the URI is not echoed")
                    again = c.run(program, "migrate", f"--from={db}", f"--to={dest.uri}",
                                  check=False)
                    self.assertNotEqual(again.returncode, 0, program)
                    self.assertIn("not empty", again.stderr)
                    self.assertNotIn("@", again.stderr, "the URI is not echoed")
                # Each program again, on its port, on PostgreSQL.
                ports = {"guidance": (c.guidance_port, None), "cases": (c.cases_port, None),
                         "gateway": (c.gateway_port, c.http_port)}
                for role in ("guidance", "cases", "gateway"):
                    grpc_port, http_port = ports[role]
                    argv = []
                    for a in c.programs[role].argv:
                        if a.startswith("--db="):
                            a = f"--db={dest.uri}"
                        elif a.startswith("--listen="):
                            a = f"--listen=127.0.0.1:{grpc_port}"
                        elif a.startswith("--http_listen="):
                            a = f"--http_listen=127.0.0.1:{http_port}"
                        argv.append(a)
                    c.programs[role] = Program(role, argv, c.dir)
                    c.programs[role].port()
                    if http_port is not None:  # the HTTP front listens after gRPC
                        c.programs[role].port("http")
                after = self.answers(c, key, cases, evidence)
                for path in before:
                    self.assertEqual(after[path], before[path], path)
                # The subscription came along, its secret still sealed under its key.
                s, moved_hook, _ = c.http("GET", f"/v1/{hook['name']}", key=key)
                self.assertEqual((s, moved_hook.get("url")), (200, "http://127.0.0.1:9/crm"))
                self.assertIn("webhooks.webhooks: 1 rows", moved.stdout)
                # And it goes on: a new case on PostgreSQL, the chain still whole.
                s, case, _ = c.http("POST", "/v1/cases", key=key, body={
                    "client": {"displayName": "周九"}, "leakedData": ["LEAKED_DATA_EMAIL"]})
                self.assertEqual(s, 200, case)
                s, audit, _ = c.http("POST", "/v1/audit:verify", key=key, body={})
                self.assertEqual((s, audit.get("ok")), (200, True), audit)
            finally:
                for role in ("gateway", "cases", "guidance"):
                    c.programs[role].stop()
                dest.close()


if __name__ == "__main__":
    unittest.main()

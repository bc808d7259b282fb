"""Starts the three Counsel programs on ephemeral ports in a temporary folder.

    with Cluster(build_dir) as c:
        key = c.create_key("firm-a", ["guidance.read"])
        c.http("GET", "/v1/statutes", key=key)

Every process is stopped and the folder removed on exit, whatever happens.
Ports are read from each program's "listening" log line, not guessed.
"""
import http.client
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STARTUP_TIMEOUT_S = 30


def postgres_server():
    """The test PostgreSQL server's settings when this run puts case-svc on
    PostgreSQL (COUNSEL_PG_ENV names tests/tools/postgres_server.sh's file),
    else None."""
    path = os.environ.get("COUNSEL_PG_ENV")
    if not path:
        return None
    settings = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                settings[k] = v
    os.environ["PGPASSFILE"] = settings["PGPASSFILE"]
    return settings


ON_POSTGRES = os.environ.get("COUNSEL_PG_ENV") is not None


def psql(uri, sql):
    subprocess.run(["psql", uri, "-qXc", sql], check=True, capture_output=True, timeout=60)


class PostgresDatabase:
    """A database of its own on the test server, dropped on close. With
    `roles`, each program gets a login role of its own (the one privilege
    granted: creating its schema in this database), as a deployment that
    keeps the programs apart would; passwords go to a PGPASSFILE of its own."""

    PROGRAMS = ("cases", "gateway", "guidance")

    def __init__(self, roles=False):
        self.server = postgres_server()
        self.name = "it_" + os.urandom(6).hex()
        admin = self.server["COUNSEL_PG_URI"]
        psql(admin, f'CREATE DATABASE "{self.name}"')
        self.uri = admin.rsplit("/", 1)[0] + "/" + self.name
        self.roles = {}
        self.pgpass = None
        if roles:
            host_port = admin.split("@", 1)[1].rsplit("/", 1)[0]
            lines = []
            for program in self.PROGRAMS:
                role, password = f"{self.name}_{program}", os.urandom(12).hex()
                psql(admin, f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
                psql(admin, f'GRANT CREATE ON DATABASE "{self.name}" TO "{role}"')
                self.roles[program] = role
                lines.append(f"{host_port}:{self.name}:{role}:{password}\n")
            fd, self.pgpass = tempfile.mkstemp(prefix="counsel-pgpass-")
            with os.fdopen(fd, "w") as f, open(self.server["PGPASSFILE"]) as base:
                f.write(base.read())
                f.writelines(lines)
            os.environ["PGPASSFILE"] = self.pgpass

    def uri_for(self, program):
        """The URI `program` connects with: its own role's, or the shared one."""
        role = self.roles.get(program)
        return self.uri if role is None else self.uri.replace("//counsel@", f"//{role}@", 1)

    def close(self):
        psql(self.server["COUNSEL_PG_URI"], f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        for role in self.roles.values():
            psql(self.server["COUNSEL_PG_URI"], f'DROP ROLE IF EXISTS "{role}"')
        if self.pgpass:
            os.environ["PGPASSFILE"] = self.server["PGPASSFILE"]
            os.remove(self.pgpass)


def pb_varint(value):
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_fields(data):
    """Yields (field number, wire type, value) of a serialized message."""
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire == 2:
            n, i = _read_varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type")
        yield field, wire, value


def _read_varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def await_condition(predicate, what, timeout=30):
    """Polls `predicate` until it holds; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def rss_kib(pid):
    """A process's resident memory."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Program:
    """One running binary whose stderr log lines are collected."""

    def __init__(self, name, argv, cwd, env=None):
        self.name = name
        self.argv = argv
        self.lines = []
        self._events = queue.Queue()
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            try:
                self._events.put(json.loads(line))
            except ValueError:
                pass
        self._events.put(None)

    def wait_for(self, predicate, timeout=STARTUP_TIMEOUT_S):
        """Returns the first log object matching predicate; fails on exit."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no matching log line: {self.lines[-5:]}")
            event = self._events.get(timeout=left)
            if event is None:
                raise RuntimeError(f"{self.name} exited: {self.lines[-10:]}")
            if predicate(event):
                return event

    def events(self):
        """Every JSON log object written so far."""
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def port(self, transport="grpc"):
        return self.wait_for(lambda e: e.get("event") == "listening" and
                             e.get("transport") == transport)["port"]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self.proc.stderr.close()
        return self.proc.returncode


class Cluster:
    def __init__(self, build_dir, extra_flags=None, cases_on_postgres=None, guidance_content=None,
                 postgres_roles=False):
        self.build = os.path.abspath(build_dir)
        # On PostgreSQL: each program under a role of its own, or all as one.
        self.postgres_roles = postgres_roles
        # What guidance-svc is started with: the shipped content, or the
        # files or folders a test names.
        self.guidance_content = guidance_content or [os.path.join(REPO, "guidance-svc", "content")]
        # Where case-svc keeps its cases: PostgreSQL when this run says so
        # (COUNSEL_PG_ENV), unless the test chooses.
        self.cases_on_postgres = ON_POSTGRES if cases_on_postgres is None else cases_on_postgres
        self.extra = extra_flags or {}
        self.dir = None
        self.programs = {}
        self.postgres = None

    def bin(self, name):
        return os.path.join(self.build, {"counsel-guidance": "guidance-svc",
                                         "counsel-cases": "case-svc",
                                         "counsel-gateway": "gateway"}[name], name)

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="counsel-it-")
        try:
            if self.cases_on_postgres:
                self.postgres = PostgresDatabase(roles=self.postgres_roles)
                self.cases_db = self.postgres.uri_for("cases")
            else:
                self.cases_db = os.path.join(self.dir, "cases.db")
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _key_file(self, name):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(path, 0o600)
        return path

    def run(self, name, *args, check=True):
        return subprocess.run([self.bin(name), *args], cwd=self.dir, capture_output=True,
                              text=True, check=check, timeout=60)

    def _start(self):
        self.context_key = self._key_file("context.key")
        self.master_key = self._key_file("master.key")
        self.audit_key = self._key_file("audit.key")
        # Statutes and advice go with the cases: PostgreSQL (schema
        # counsel_guidance of the same database) or a file.
        self.guidance_db = (self.postgres.uri_for("guidance") if self.postgres
                            else os.path.join(self.dir, "guidance.db"))
        self.run("counsel-guidance", "import", *self.guidance_content, f"--db={self.guidance_db}")
        common = ["--listen=127.0.0.1:0", f"--context_key_file={self.context_key}"]
        g = self.start("guidance", "counsel-guidance", common + [f"--db={self.guidance_db}"])
        self.guidance_port = g.port()
        # Short bookmarks: an HTTP watcher notices a closed connection at the
        # next frame it sends.
        c = self.start("cases", "counsel-cases", common + ["--bookmark_interval=1s",
            f"--db={self.cases_db}", f"--master_key_file={self.master_key}",
            f"--audit_key_file={self.audit_key}",
            f"--guidance_addr=127.0.0.1:{self.guidance_port}"])
        self.cases_port = c.port()
        # The gateway's keys and sessions go with the cases: PostgreSQL
        # (schema counsel_gateway of the same database) or a file.
        self.gateway_db = (self.postgres.uri_for("gateway") if self.postgres
                           else os.path.join(self.dir, "gateway.db"))
        gw = self.start("gateway", "counsel-gateway", common + [
            "--http_listen=127.0.0.1:0", f"--db={self.gateway_db}",
            f"--guidance_addr=127.0.0.1:{self.guidance_port}",
            f"--cases_addr=127.0.0.1:{self.cases_port}"])
        self.gateway_port = gw.port("grpc")
        self.http_port = gw.port("http")

    def start(self, role, name, flags):
        flags = flags + [f"--{k}={v}" for k, v in self.extra.get(role, {}).items()]
        prog = Program(role, [self.bin(name), *flags], self.dir)
        self.programs[role] = prog
        return prog

    def restart(self, role, sig=signal.SIGKILL):
        """Stops a program (kill -9 by default) and starts it again on its port."""
        prog = self.programs[role]
        port = {"guidance": self.guidance_port, "cases": self.cases_port,
                "gateway": self.gateway_port}[role]
        prog.stop(sig)
        argv = [a if not a.startswith("--listen=") else f"--listen=127.0.0.1:{port}"
                for a in prog.argv]
        argv = [a if not a.startswith("--http_listen=") else
                f"--http_listen=127.0.0.1:{self.http_port}" for a in argv]
        new = Program(role, argv, self.dir)
        self.programs[role] = new
        new.port()
        return new

    def __exit__(self, *exc):
        for prog in self.programs.values():
            prog.stop()
        if self.postgres:
            self.postgres.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def store_bytes(self):
        """Every byte case-svc's engine keeps on disk: the SQLite file and its
        companions (not the erasure ledger), or every file of the PostgreSQL
        server (tables, indexes, WAL, logs)."""
        out = []
        if self.postgres:
            for root, _, files in os.walk(os.path.join(self.postgres.server["COUNSEL_PG_DIR"])):
                for f in files:
                    try:
                        with open(os.path.join(root, f), "rb") as fh:
                            out.append(fh.read())
                    except OSError:
                        pass  # a file the server removed meanwhile
            return b"".join(out)
        folder, name = os.path.split(self.cases_db)
        for f in os.listdir(folder):
            if f.startswith(name) and not f.endswith(".erasures"):
                with open(os.path.join(folder, f), "rb") as fh:
                    out.append(fh.read())
        return b"".join(out)

    def cases_rows(self, sql):
        """Rows of a query on case-svc's own tables, whichever engine holds
        them (values as the engine's client returns them: text on PostgreSQL)."""
        if self.postgres:
            out = subprocess.run(["psql", self.postgres.uri, "-qAtX", "-F", "\t", "-c", sql],
                                 check=True, capture_output=True, text=True, timeout=60,
                                 env=dict(os.environ, PGOPTIONS="-csearch_path=counsel_cases"))
            return [tuple(line.split("\t")) for line in out.stdout.splitlines()]
        import sqlite3
        con = sqlite3.connect(self.cases_db)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def create_key(self, tenant, scopes, client=None, rate=None):
        args = ["keys", "create", f"--db={self.gateway_db}", f"--tenant={tenant}",
                f"--scopes={','.join(scopes)}"]
        if client:
            args.append(f"--client={client}")
        if rate:
            args += [f"--rate={rate}", f"--burst={rate}"]
        out = self.run("counsel-gateway", *args).stdout
        return out.strip().splitlines()[-1]

    def http(self, method, path, key=None, body=None, headers=None, port=None):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.http_port, timeout=30)
        h = dict(headers or {})
        if key:
            h["authorization"] = f"Bearer {key}"
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode()
        return resp.status, parsed, dict(resp.getheaders())

    def in_flight(self):
        """The gateway's calls in flight, from /metrics."""
        import re
        _, body, _ = self.http("GET", "/metrics")
        m = re.search(r"^counsel_gateway_in_flight(?:\{\})? ([0-9.e+]+)$", body, re.M)
        return float(m.group(1)) if m else -1

    def logs(self):
        return "\n".join(line for p in self.programs.values() for line in p.lines)

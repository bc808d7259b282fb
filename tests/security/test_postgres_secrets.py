"""What a PostgreSQL connection string can leak, from outside: a password in
a URI libpq cannot parse (its own message quotes the URI), or in one that
names an unreachable server, never reaches an admin command's output or a
program's log; the server's detail (which can quote row values) never
reaches a caller. No server is needed: nothing here connects."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                          "build", "test"))
PASSWORD = "Pw7-canary-3f9a"
STATUTE = os.path.join(os.path.dirname(__file__), "..", "..", "guidance-svc", "content", "statutes",
                       "data-security")


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bin_path(name):
    return os.path.join(BUILD, {"counsel-cases": "case-svc", "counsel-gateway": "gateway",
                                "counsel-guidance": "guidance-svc"}[name], name)


class PostgresSecretsTest(unittest.TestCase):
    def run_with(self, name, *args):
        with tempfile.TemporaryDirectory() as d:
            key = os.path.join(d, "audit.key")
            with open(key, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(key, 0o600)
            extra = ([f"--audit_key_file={key}"] if name == "counsel-cases"
                     else [f"--context_key_file={key}"])
            out = subprocess.run([bin_path(name), *args, *extra], cwd=d,
                                 capture_output=True, text=True, timeout=60)
        return out.returncode, out.stdout + out.stderr

    def uris(self):
        port = closed_port()
        return [
            f"postgresql://app:{PASSWORD}%zz@127.0.0.1:{port}/app",     # bad percent-encoding
            f"postgresql://app:{PASSWORD}@[::1:{port}/app",             # unclosed IPv6 bracket
            f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/app?x=1=2",  # unexpected character
            f"postgresql://app:{PASSWORD}@127.0.0.1:{port}/app",        # well formed, nobody there
        ]

    def setUp(self):
        # Real sources for the moves, so that they reach the destination URI.
        self.sources = tempfile.mkdtemp(prefix="counsel-pgsecrets-")
        self.guidance_db = os.path.join(self.sources, "guidance.db")
        self.gateway_db = os.path.join(self.sources, "gateway.db")
        subprocess.run([bin_path("counsel-guidance"), "import", STATUTE, f"--db={self.guidance_db}"],
                       check=True, capture_output=True, timeout=60)
        subprocess.run([bin_path("counsel-gateway"), "keys", "list", f"--db={self.gateway_db}"],
                       check=True, capture_output=True, timeout=60)

    def tearDown(self):
        shutil.rmtree(self.sources, ignore_errors=True)

    def test_admin_commands_never_print_the_password(self):
        for uri in self.uris():
            for name, args in (("counsel-cases", ["audit", "verify", f"--db={uri}"]),
                               ("counsel-cases", ["migrate", "--from=/nonexistent.db", f"--to={uri}"]),
                               ("counsel-gateway", ["keys", "list", f"--db={uri}"]),
                               ("counsel-gateway", ["migrate", f"--from={self.gateway_db}",
                                                    f"--to={uri}"]),
                               ("counsel-guidance", ["import", STATUTE, f"--db={uri}"]),
                               ("counsel-guidance", ["migrate", f"--from={self.guidance_db}",
                                                     f"--to={uri}"])):
                code, text = self.run_with(name, *args)
                self.assertNotEqual(code, 0, (name, args))
                # Refused for the URI (or the missing source), not a flag.
                self.assertRegex(text, "malformed PostgreSQL connection URI|PostgreSQL is "
                                       "unreachable|does not exist", (name, args, text))
                self.assertNotIn(PASSWORD, text, (name, args))
                self.assertNotIn("app:", text, (name, args))

    def test_a_server_never_logs_the_password(self):
        uri = self.uris()[0]
        for name, flags in (("counsel-gateway", ["--http_listen=127.0.0.1:0"]),
                            ("counsel-guidance", [])):
            code, text = self.run_with(name, f"--db={uri}", "--listen=127.0.0.1:0", *flags)
            self.assertNotEqual(code, 0, name)
            self.assertIn("malformed PostgreSQL connection URI", text, name)
            self.assertNotIn(PASSWORD, text, name)


if __name__ == "__main__":
    unittest.main()

"""How long `counsel-cases migrate` takes: a SQLite firm of N cases (each
with its event and audit entry, one in ten with evidence) moved into a
throwaway PostgreSQL server, timed. The downtime of a move is about this.

    /usr/bin/python3 tests/bench/migrate_report.py [CASES]   (default 20000)
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("COUNSEL_BUILD_DIR", os.path.join(HERE, "..", "..", "build", "release"))
SERVER = os.path.join(HERE, "..", "tools", "postgres_server.sh")
ENV_FILE = os.path.join(tempfile.mkdtemp(prefix="counsel-migrate-"), "postgres.env")
os.environ["COUNSEL_PG_ENV"] = ENV_FILE
sys.path.insert(0, os.path.join(BUILD, "py"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from counsel_harness import Cluster, PostgresDatabase  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    subprocess.run([SERVER, "start", ENV_FILE], check=True)
    try:
        with Cluster(BUILD, cases_on_postgres=False) as c:
            key = c.create_key("firm-m", ["cases.read", "cases.write", "cases.pii"], rate=1000000)
            done, lock = [0], threading.Lock()

            def writer(start):
                for i in range(start, n, 8):
                    s, case, _ = c.http("POST", "/v1/cases", key=key, body={
                        "client": {"id": f"crm-{i}", "displayName": "孙八",
                                   "phone": "13912345678"},
                        "summary": "接到冒充客服电话", "leakedData": ["LEAKED_DATA_PHONE"]})
                    assert s == 200, case
                    if i % 10 == 0:
                        c.http("POST", f"/v1/{case['name']}/evidence", key=key, body={
                            "evidence": {"kind": "KIND_SCREENSHOT", "summary": "截图",
                                         "attachment": {"filename": "a.png",
                                                        "contentType": "image/png"}},
                            "chunk": "aGVsbG8gd29ybGQ="})
                    with lock:
                        done[0] += 1

            threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            c.programs["cases"].stop()
            size = os.path.getsize(c.cases_db)
            dest = PostgresDatabase()
            try:
                t0 = time.monotonic()
                out = c.run("counsel-cases", "migrate", f"--from={c.cases_db}", f"--to={dest.uri}",
                            f"--audit_key_file={c.audit_key}", check=False)
                elapsed = time.monotonic() - t0
                assert out.returncode == 0, out.stderr
                rows = sum(int(line.split(": ")[1].split()[0]) for line in out.stdout.splitlines()
                           if line.endswith(" rows"))
                print(f"migrate: {done[0]} cases ({rows} rows, {size / 1e6:.1f} MB file) in "
                      f"{elapsed:.1f} s: {done[0] / elapsed:,.0f} cases/s, {rows / elapsed:,.0f} "
                      f"rows/s, checks included")
            finally:
                dest.close()
    finally:
        subprocess.run([SERVER, "stop", ENV_FILE], check=True)
        os.rmdir(os.path.dirname(ENV_FILE))


if __name__ == "__main__":
    main()

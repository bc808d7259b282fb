"""A webhook receiver for tests: an HTTP server on loopback that records every
delivery and answers as told. Its signature check is written from the
Standard Webhooks 1.0 text (https://www.standardwebhooks.com), not from
Counsel's code:

    signed content = "{webhook-id}.{webhook-timestamp}.{body}"
    signature      = base64(HMAC-SHA256(base64decode(secret without "whsec_"), signed content))
    header         = space-separated "v1,{signature}" entries; any one may match
"""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time


def verify(secret, headers, body, tolerance=300, now=None):
    """True when one v1 signature of the delivery matches `secret` and the
    timestamp is within `tolerance` seconds."""
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    if not msg_id or not ts.isdigit():
        return False
    if abs((now or time.time()) - int(ts)) > tolerance:
        return False
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else b""
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    for entry in headers.get("webhook-signature", "").split(" "):
        version, _, sig = entry.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


class Receiver:
    """`status` (or a callable of the delivery) decides each answer; `delay`
    seconds are waited before answering."""

    def __init__(self, status=200, delay=0.0):
        self.status = status
        self.delay = delay
        self.deliveries = []  # dicts: headers, body, json, time
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle and
            # the sender's delayed ACK add 40 ms to every answer.
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                d = {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                     "time": time.time(), "path": self.path}
                try:
                    d["json"] = json.loads(body)
                except ValueError:
                    d["json"] = None
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status(d) if callable(receiver.status) else receiver.status
                extra = {}
                if isinstance(status, tuple):
                    status, extra = status
                payload = b"ok"
                with receiver.cond:
                    d["answered"] = status
                    receiver.deliveries.append(d)
                    receiver.cond.notify_all()
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a sender that hangs up (timeouts, kill -9) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted(self):
        """Deliveries answered 2xx, in arrival order."""
        with self.cond:
            return [d for d in self.deliveries if 200 <= d["answered"] < 300]

    def wait(self, predicate, timeout=30):
        """Waits until predicate(deliveries) is true; returns the deliveries."""
        deadline = time.time() + timeout
        with self.cond:
            while not predicate(self.deliveries):
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"receiver: condition not met; {len(self.deliveries)} "
                                       f"deliveries")
                self.cond.wait(left)
            return list(self.deliveries)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Receivers:
    """A test-class mixin: `self.receiver()` starts one; `close_receivers()`
    (call it in tearDownClass) stops them all."""
    _receivers = None

    @classmethod
    def receiver(cls, **kw):
        if cls._receivers is None:
            cls._receivers = []
        r = Receiver(**kw)
        cls._receivers.append(r)
        return r

    @classmethod
    def close_receivers(cls):
        for r in cls._receivers or []:
            r.close()

"""Shared helpers of the conformance suite: the real webhook-dev binary, a real handler on
127.0.0.1:0, and fixture files for `webhook-dev verify`.

Every test talks only to loopback. The binary comes from $WEBHOOK_DEV_BIN (conformance/run sets it).
"""

import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest

BIN = os.environ.get("WEBHOOK_DEV_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "target", "debug", "webhook-dev"
)


@dataclass
class Seen:
    """One request as the handler received it: header names lower-cased, repeats kept."""

    method: str
    path: str
    headers: list
    body: bytes

    def header(self, name: str):
        name = name.lower()
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def header_dict(self) -> dict:
        return {n: v for n, v in self.headers}


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict = field(default_factory=lambda: {"content-type": "application/json"})


class Handler:
    """A webhook handler on 127.0.0.1:0. `respond(seen) -> Answer` decides each answer (default:
    200 `{"ok":true}`); every request is kept in `seen`."""

    def __init__(self, respond: Callable[[Seen], Answer] | None = None):
        self.respond = respond or (lambda seen: Answer())
        self.seen: list[Seen] = []
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command,
                    self.path,
                    [(n.lower(), v) for n, v in self.headers.items()],
                    body,
                )
                outer.seen.append(seen)
                try:
                    answer = outer.respond(seen)
                except Exception as e:  # the oracle raised: answer 400 with its words
                    answer = Answer(400, f"{type(e).__name__}: {e}".encode(), {"content-type": "text/plain"})
                self.send_response(answer.status)
                for n, v in answer.headers.items():
                    self.send_header(n, v)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def store(tmp_path):
    """A fresh store directory for one test."""
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture
def wd(store):
    """Runs the real binary with the test's store: wd("trigger", "stripe", ...) -> CompletedProcess.
    `check=True` (the default) fails the test on a non-zero exit, showing stderr."""

    def run(*args, check=True, input=None, timeout=60):
        proc = subprocess.run(
            [BIN, "--store", str(store), *map(str, args)],
            capture_output=True,
            input=input,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"webhook-dev {' '.join(map(str, args))} exited {proc.returncode}:\n"
                f"{proc.stderr.decode(errors='replace')}"
            )
        return proc

    return run


@pytest.fixture
def handler():
    """Start handlers: handler(respond) -> Handler; all are closed after the test."""
    started = []

    def start(respond=None):
        h = Handler(respond)
        started.append(h)
        return h

    yield start
    for h in started:
        h.close()


@pytest.fixture
def trigger(wd):
    """trigger(profile, event, handler, secret=None, *extra) sends one event with no retries and
    returns (delivery JSON, the request the handler saw)."""

    def run(profile, event, to: Handler, secret=None, *extra, check=True):
        args = ["trigger", profile, event, "--to", to.url, "--retry-schedule", "none", "--json"]
        if secret is not None:
            args += ["--secret", secret]
        before = len(to.seen)
        proc = wd(*args, *extra, check=check)
        delivery = json.loads(proc.stdout.decode().strip().splitlines()[-1]) if proc.stdout.strip() else None
        seen = to.seen[before] if len(to.seen) > before else None
        return delivery, seen

    return run


@pytest.fixture
def verify(wd, tmp_path):
    """verify(profile, secret, headers, body, received_at=None) -> the `signature` verdict of
    `webhook-dev verify FIXTURE --json` (with `whole=True`, all it printed). `received_at` (RFC 3339) is the moment timestamps are
    judged against; without it, now."""
    counter = [0]

    def run(profile, secret, headers, body: bytes, received_at=None, path="/webhooks", whole=False):
        counter[0] += 1
        fixture = {
            "webhook_dev_fixture": 1,
            "method": "POST",
            "path": path,
            "headers": [[n, v] for n, v in (headers.items() if isinstance(headers, dict) else headers)],
            "body": {"encoding": "utf8", "data": body.decode()},
        }
        if received_at is not None:
            fixture["received_at"] = received_at
        file = tmp_path / f"fixture-{counter[0]}.json"
        file.write_text(json.dumps(fixture))
        args = ["verify", file, "--profile", profile, "--json"]
        if secret is not None:
            args += ["--secret", secret]
        if received_at is None:
            args.append("--now")
        proc = wd(*args, check=False)
        out = proc.stdout.decode().strip()
        if not out:
            raise AssertionError(f"verify printed nothing: {proc.stderr.decode(errors='replace')}")
        return json.loads(out) if whole else json.loads(out)["signature"]

    return run


@pytest.fixture
def import_stale(wd, tmp_path):
    """import_stale(path, headers, body) stores a request with stale signature headers (as if
    captured long ago) through `webhook-dev import` and returns its id."""
    counter = [0]

    def run(path, headers, body: bytes):
        counter[0] += 1
        fixture = {
            "webhook_dev_fixture": 1,
            "method": "POST",
            "path": path,
            "headers": [["content-type", "application/json"], *[[n, v] for n, v in headers]],
            "body": {"encoding": "utf8", "data": body.decode()},
        }
        file = tmp_path / f"stale-{counter[0]}.json"
        file.write_text(json.dumps(fixture))
        wd("import", file)
        return json.loads(wd("requests", "list", "--json").stdout.decode().splitlines()[-1])["id"]

    return run

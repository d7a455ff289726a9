"""`webhook-dev emulate avala`, judged by the official SDK (PyPI `avala` 0.10.0) as the client,
configured only through its environment (AVALA_BASE_URL, AVALA_ALLOW_INSECURE_BASE_URL): create,
list with pagination, get, update, test, delete, the delivery log, and the errors the SDK maps to
its exception classes. Events go to real handlers on 127.0.0.1, signed as the seed document's
verifier expects."""

import hashlib
import hmac
import json
import queue
import subprocess
import threading
import time
import urllib.request

import avala
import pytest
from avala.errors import AuthenticationError, NotFoundError, ValidationError

from conftest import BIN, Answer


class Emulator:
    """The real binary's `emulate avala --json`, its NDJSON lines collected as they come."""

    def __init__(self, store, *extra):
        self.proc = subprocess.Popen(
            [BIN, "--store", str(store), "emulate", "avala", "--addr", "127.0.0.1:0", "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        first = self.next_line(timeout=20)
        assert first["event"] == "emulating", first
        self.base_url = first["base_url"]
        self.url = "http://" + first["addr"]

    def _read(self):
        for raw in self.proc.stdout:
            line = json.loads(raw)
            self.seen.append(line)
            self.lines.put(line)

    def next_line(self, timeout=10):
        return self.lines.get(timeout=timeout)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def emulator(store):
    started = []

    def start(*extra):
        e = Emulator(store, *extra)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


@pytest.fixture
def client(emulator, monkeypatch):
    """The SDK, pointed at an emulator (retries 0.2 s apart) by its environment alone."""
    emu = emulator("--retry-schedule", "0.2s,0.2s", "--timeout", "2")
    monkeypatch.setenv("AVALA_BASE_URL", emu.base_url)
    monkeypatch.setenv("AVALA_ALLOW_INSECURE_BASE_URL", "true")
    monkeypatch.setenv("AVALA_API_KEY", "any-key")
    c = avala.Avala()
    c.emulator = emu
    return c


def signed_by(secret):
    """A handler answer that checks X-Avala-Signature as Avala's documented verifier does."""

    def respond(seen):
        expected = hmac.new(secret.encode(), seen.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(seen.header("x-avala-signature") or "", expected):
            return Answer(401, b'{"error":"Invalid signature"}')
        return Answer(200, b'{"success":true}')

    return respond


def wait_for(check, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_the_base_url_is_the_sdks_and_the_sdk_needs_nothing_else(client):
    assert client.emulator.base_url.endswith("/api/v1")
    assert client.webhooks.list().items == []


def test_create_get_update_delete(client, handler):
    h = handler()
    created = client.webhooks.create(
        target_url=h.url + "/webhooks/avala", events=["task.completed", "task.reviewed"], secret="s3cret"
    )
    assert created.uid.startswith("wh_")
    assert created.target_url == h.url + "/webhooks/avala"
    assert created.events == ["task.completed", "task.reviewed"]
    assert created.is_active is True and created.secret == "s3cret"
    assert created.created_at is not None and created.updated_at is not None

    got = client.webhooks.get(created.uid)
    assert got == created

    updated = client.webhooks.update(created.uid, target_url=h.url + "/new", is_active=False)
    assert updated.target_url == h.url + "/new" and updated.is_active is False
    assert updated.events == created.events and updated.secret == "s3cret"
    again = client.webhooks.update(created.uid, events=["task.rejected"])
    assert again.events == ["task.rejected"] and again.is_active is False
    assert client.webhooks.get(created.uid) == again

    assert client.webhooks.delete(created.uid) is None
    with pytest.raises(NotFoundError):
        client.webhooks.get(created.uid)
    with pytest.raises(NotFoundError):
        client.webhooks.delete(created.uid)


def test_a_webhook_without_a_secret_gets_one(client, handler):
    created = client.webhooks.create(target_url=handler().url, events=["export.completed"])
    assert created.secret and len(created.secret) >= 32


def test_list_pages_through_every_webhook_once(client, handler):
    h = handler()
    uids = {client.webhooks.create(target_url=f"{h.url}/{i}", events=["task.created"]).uid for i in range(5)}
    first = client.webhooks.list(limit=2)
    assert len(first) == 2 and first.has_more and first.previous_cursor is None
    seen, page = [], first
    while True:
        seen += [w.uid for w in page]
        if not page.has_more:
            break
        page = client.webhooks.list(limit=2, cursor=page.next_cursor)
    assert len(seen) == 5 and set(seen) == uids
    back = client.webhooks.list(limit=2, cursor=page.previous_cursor)
    assert [w.uid for w in back] == seen[2:4]


def test_validation_errors_are_the_sdks_validation_errors(client, handler):
    h = handler()
    with pytest.raises(ValidationError) as unknown:
        client.webhooks.create(target_url=h.url, events=["task.exploded"])
    assert unknown.value.status_code == 400
    assert "task.exploded" in str(unknown.value) and "task.completed" in str(unknown.value)
    assert "events" in unknown.value.body
    with pytest.raises(ValidationError) as not_url:
        client.webhooks.create(target_url="not a url", events=["task.completed"])
    assert "target_url" in str(not_url.value)
    with pytest.raises(ValidationError):
        client.webhooks.create(target_url=h.url, events=[])
    created = client.webhooks.create(target_url=h.url, events=["task.completed"])
    with pytest.raises(ValidationError):
        client.webhooks.update(created.uid, target_url="ftp://example.invalid/x", events=["task.completed"])
    # nothing was stored half-way: the failed update left the webhook as it was
    assert client.webhooks.get(created.uid) == created
    assert [w.uid for w in client.webhooks.list()] == [created.uid]


def test_unknown_uids_are_not_found(client):
    for call in (
        lambda: client.webhooks.get("wh_nope"),
        lambda: client.webhooks.update("wh_nope", is_active=False),
        lambda: client.webhooks.test("wh_nope"),
        lambda: client.webhook_deliveries.get("whd_nope"),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(NotFoundError):
        client.webhooks.list(cursor="not-a-cursor")


def test_an_api_key_is_required(client):
    # The SDK refuses to start without a key, so the header is taken off its HTTP client.
    del client._transport._client.headers["X-Avala-Api-Key"]
    with pytest.raises(AuthenticationError) as refused:
        client.webhooks.list()
    assert "X-Avala-Api-Key" in str(refused.value)


def test_test_sends_a_signed_event_and_reports_the_answer(client, handler):
    h = handler(signed_by("test-secret"))
    created = client.webhooks.create(target_url=h.url + "/hook", events=["task.completed"], secret="test-secret")
    result = client.webhooks.test(created.uid)
    assert result["success"] is True, result
    assert result["response"]["status_code"] == 200
    assert len(h.seen) == 1 and h.seen[0].path == "/hook"
    event = json.loads(h.seen[0].body)
    assert event["type"] == "task.completed" and "data" in event

    wrong = handler(signed_by("another-secret"))
    client.webhooks.update(created.uid, target_url=wrong.url)
    failed = client.webhooks.test(created.uid)
    assert failed["success"] is False and "401" in failed["error"]
    delivery = client.webhook_deliveries.get(failed["delivery"])
    assert delivery.response_status == 401 and delivery.attempts == 1 and delivery.status == "failed"
    # a test is never retried, and never disables the webhook
    time.sleep(0.6)
    assert len(wrong.seen) == 1
    assert client.webhooks.get(created.uid).is_active is True


def fire(wd, emu, event, *sets):
    args = ["trigger", "avala", event, "--emulator", emu.url, "--json"]
    for s in sets:
        args += ["--set", s]
    out = wd(*args).stdout.decode().strip()
    return [json.loads(line) for line in out.splitlines() if line]


def test_events_reach_every_active_subscriber_signed_with_its_own_secret(client, handler, wd):
    a, b, idle, other = handler(signed_by("secret-a")), handler(signed_by("secret-b")), handler(), handler()
    wa = client.webhooks.create(target_url=a.url, events=["task.completed"], secret="secret-a")
    wb = client.webhooks.create(target_url=b.url, events=["task.completed", "task.created"], secret="secret-b")
    client.webhooks.create(target_url=idle.url, events=["task.completed"], is_active=False)
    client.webhooks.create(target_url=other.url, events=["export.completed"])

    fired = fire(wd, client.emulator, "task.completed", "data.uid=task_42")
    assert {d["subscription"] for d in fired} == {wa.uid, wb.uid}
    assert all(d["status"] == "success" and d["response_status"] == 200 for d in fired), fired
    assert len(a.seen) == len(b.seen) == 1 and not idle.seen and not other.seen
    assert json.loads(a.seen[0].body)["data"]["uid"] == "task_42"
    assert a.seen[0].body == b.seen[0].body

    page = client.webhook_deliveries.list(limit=10)
    assert {d.subscription for d in page} == {wa.uid, wb.uid}
    for d in page:
        assert d.event_type == "task.completed" and d.status == "success"
        assert d.attempts == 1 and d.response_status == 200 and d.next_retry_at is None
        assert d.payload["data"]["uid"] == "task_42"
        assert client.webhook_deliveries.get(d.uid) == d

    logged = [json.loads(line) for line in wd("deliveries", "list", "--json").stdout.decode().splitlines()]
    assert {d["id"] for d in logged} >= {d.uid for d in page}


def test_failing_deliveries_are_retried_then_the_webhook_is_disabled(client, handler, wd):
    h = handler(lambda seen: Answer(500, b"boom"))
    created = client.webhooks.create(target_url=h.url, events=["dataset.updated"])
    fired = fire(wd, client.emulator, "dataset.updated")
    assert fired[0]["status"] == "pending" and fired[0]["next_retry_at"], fired
    uid = fired[0]["id"]
    delivery = wait_for(lambda: (d := client.webhook_deliveries.get(uid)).status == "failed" and d)
    assert delivery.attempts == 3 and len(h.seen) == 3
    assert delivery.response_status == 500 and delivery.response_body == "boom"
    assert delivery.next_retry_at is None
    assert client.webhooks.get(created.uid).is_active is False
    # a disabled webhook receives nothing more
    assert fire(wd, client.emulator, "dataset.updated") == []
    assert len(h.seen) == 3


def raw_get(emu, path):
    request = urllib.request.Request(emu.base_url + path, headers={"X-Avala-Api-Key": "any-key"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_a_handler_that_never_answers_has_no_response_status_and_says_why(client, handler, wd):
    dead = handler()
    dead_url = dead.url
    dead.close()
    client.webhooks.create(target_url=dead_url, events=["project.created"])
    fired = fire(wd, client.emulator, "project.created")
    delivery = client.webhook_deliveries.get(fired[0]["id"])
    assert delivery.response_status is None and delivery.response_body is None
    raw = raw_get(client.emulator, f"/webhook-deliveries/{delivery.uid}/")
    assert "never answered" in raw["error_message"], raw

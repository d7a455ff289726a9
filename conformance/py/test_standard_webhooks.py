"""Standard Webhooks and Svix, judged by their official libraries (`standardwebhooks`, `svix`);
Slack by `slack_sdk`'s SignatureVerifier; Avala by the seed document's verification snippet
(`hmac.compare_digest` of the hex digest; the `avala` SDK ships no verifier); Infermedica by its
static token."""

import base64
import hashlib
import hmac
import json
import os
import time
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import standardwebhooks
import svix.webhooks
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).parents[2]
SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def events(profile):
    return [e["name"] for e in tomllib.loads((ROOT / f"assets/providers/{profile}.toml").read_text())["events"]]


def Answer(*args):
    from conftest import Answer as A
    return A(*args)


# --- every trigger is accepted by the provider's own library ---

@pytest.mark.parametrize("event", events("standard-webhooks"))
def test_standard_webhooks_triggers_verify(trigger, handler, event):
    ok = []
    h = handler(lambda seen: (ok.append(standardwebhooks.Webhook(SECRET).verify(seen.body, seen.header_dict())), Answer())[1])
    delivery, _ = trigger("standard-webhooks", event, h, SECRET)
    assert ok and delivery["status"] == "success", delivery


@pytest.mark.parametrize("event", events("svix"))
def test_svix_triggers_verify(trigger, handler, event):
    ok = []
    h = handler(lambda seen: (ok.append(svix.webhooks.Webhook(SECRET).verify(seen.body, seen.header_dict())), Answer())[1])
    delivery, _ = trigger("svix", event, h, SECRET)
    assert ok and delivery["status"] == "success", delivery


@pytest.mark.parametrize("event", events("slack"))
def test_slack_triggers_verify(trigger, handler, event):
    verifier = SignatureVerifier(SLACK_SECRET)

    def respond(seen):
        if not verifier.is_valid_request(seen.body, seen.header_dict()):
            return Answer(401, b"invalid")
        body = json.loads(seen.body)
        if body.get("type") == "url_verification":
            return Answer(200, json.dumps({"challenge": body["challenge"]}).encode())
        return Answer()

    delivery, _ = trigger("slack", event, handler(respond), SLACK_SECRET)
    assert delivery["status"] == "success", delivery


def avala_snippet_accepts(secret, body, signature):
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return signature is not None and hmac.compare_digest(expected, signature)


@pytest.mark.parametrize("event", events("avala"))
def test_avala_triggers_verify(trigger, handler, event):
    h = handler(lambda seen: Answer() if avala_snippet_accepts("avala-secret", seen.body, seen.header("x-avala-signature")) else Answer(401, b"bad"))
    delivery, _ = trigger("avala", event, h, "avala-secret")
    assert delivery["status"] == "success", delivery


@pytest.mark.parametrize("event", events("infermedica"))
def test_infermedica_triggers_carry_the_token(trigger, handler, event):
    h = handler(lambda seen: Answer() if seen.header("x-webhook-infermedica-token") == "tok_123" else Answer(401, b"bad"))
    delivery, seen = trigger("infermedica", event, h, "tok_123")
    assert delivery["status"] == "success", delivery
    assert set(json.loads(seen.body)) == {"event_type", "content"}


# --- verdicts agree with the libraries ---

BODY = b'{"type":"contact.created","timestamp":"2026-12-05T20:00:00Z","data":{"id":"c_1"}}'


def sw_cases(prefix):
    now = datetime.now(timezone.utc)
    other = "whsec_" + base64.b64encode(b"another secret of 24 b!!").decode()

    def good(at=now, secret=SECRET, msg_id="msg_1"):
        sig = standardwebhooks.Webhook(secret).sign(msg_id, at, BODY.decode())
        return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(int(at.timestamp())), f"{prefix}-signature": sig}

    yield "valid", good(), BODY
    yield "tampered", good(), BODY + b" "
    yield "wrong secret", good(secret=other), BODY
    yield "10 min old", good(now - timedelta(minutes=10)), BODY
    yield "10 min ahead", good(now + timedelta(minutes=10)), BODY
    for missing in ["id", "timestamp", "signature"]:
        yield f"no {missing}", {k: v for k, v in good().items() if k != f"{prefix}-{missing}"}, BODY
    yield "rotation", {**good(), f"{prefix}-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + good()[f"{prefix}-signature"]}, BODY
    yield "unknown version", {**good(), f"{prefix}-signature": good()[f"{prefix}-signature"].replace("v1,", "v2,")}, BODY


def library_accepts(lib, headers, body):
    try:
        lib(SECRET).verify(body, headers)
        return True
    except Exception:
        return False


@pytest.mark.parametrize("case,headers,body", list(sw_cases("webhook")), ids=[c[0] for c in sw_cases("webhook")])
def test_standard_webhooks_verdicts(verify, case, headers, body):
    verdict = verify("standard-webhooks", SECRET, headers, body)
    assert (verdict["status"] == "verified") == library_accepts(standardwebhooks.Webhook, headers, body), (case, verdict)
    assert verdict["status"] == "verified" or verdict["reason"]


@pytest.mark.parametrize("case,headers,body", list(sw_cases("svix")), ids=[c[0] for c in sw_cases("svix")])
def test_svix_verdicts(verify, case, headers, body):
    verdict = verify("svix", SECRET, headers, body)
    assert (verdict["status"] == "verified") == library_accepts(svix.webhooks.Webhook, headers, body), (case, verdict)
    assert verdict["status"] == "verified" or verdict["reason"]


def test_a_raw_secret_where_whsec_base64_was_expected_is_explained(verify):
    raw = "a-raw-secret-not-base64!"
    at = datetime.now(timezone.utc)
    content = f"msg_1.{int(at.timestamp())}.".encode() + BODY
    sig = "v1," + base64.b64encode(hmac.new(raw.encode(), content, hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": sig}
    assert library_accepts(standardwebhooks.Webhook, headers, BODY) is False
    verdict = verify("standard-webhooks", SECRET, headers, BODY)
    assert verdict["status"] == "invalid" and verdict["reason"]


def slack_cases():
    now = int(time.time())
    v = SignatureVerifier(SLACK_SECRET)
    good = lambda ts=now, secret=SLACK_SECRET: {
        "x-slack-request-timestamp": str(ts),
        "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=BODY.decode()),
    }
    yield "valid", good(), BODY
    yield "tampered", good(), BODY + b" "
    yield "wrong secret", good(secret="other-secret"), BODY
    yield "10 min old", good(now - 600), BODY
    yield "10 min ahead", good(now + 600), BODY
    yield "no timestamp", {"x-slack-signature": good()["x-slack-signature"]}, BODY
    yield "no signature", {"x-slack-request-timestamp": str(now)}, BODY
    yield "upper-case hex", {**good(), "x-slack-signature": "v0=" + good()["x-slack-signature"][3:].upper()}, BODY
    del v


@pytest.mark.parametrize("case,headers,body", list(slack_cases()), ids=[c[0] for c in slack_cases()])
def test_slack_verdicts(verify, case, headers, body):
    verdict = verify("slack", SLACK_SECRET, headers, body)
    accepted = SignatureVerifier(SLACK_SECRET).is_valid_request(body, headers)
    assert (verdict["status"] == "verified") == accepted, (case, verdict)
    assert verdict["status"] == "verified" or verdict["reason"]


def avala_cases():
    sig = hmac.new(b"avala-secret", BODY, hashlib.sha256).hexdigest()
    yield "valid", {"x-avala-signature": sig}, BODY
    yield "tampered", {"x-avala-signature": sig}, BODY + b" "
    yield "wrong secret", {"x-avala-signature": hmac.new(b"other", BODY, hashlib.sha256).hexdigest()}, BODY
    yield "upper-case hex", {"x-avala-signature": sig.upper()}, BODY
    yield "sha256= prefix", {"x-avala-signature": "sha256=" + sig}, BODY
    yield "missing", {}, BODY


@pytest.mark.parametrize("case,headers,body", list(avala_cases()), ids=[c[0] for c in avala_cases()])
def test_avala_verdicts(verify, case, headers, body):
    verdict = verify("avala", "avala-secret", headers, body)
    accepted = avala_snippet_accepts("avala-secret", body, headers.get("x-avala-signature"))
    assert (verdict["status"] == "verified") == accepted, (case, verdict)
    assert verdict["status"] == "verified" or verdict["reason"]


def test_slack_refuses_a_wrong_challenge(wd, handler):
    h = handler(lambda seen: Answer(200, b'{"challenge":"nope"}'))
    proc = wd("trigger", "slack", "url_verification", "--to", h.url, "--secret", SLACK_SECRET,
              "--retry-schedule", "none", "--json", check=False)
    assert proc.returncode != 0
    assert json.loads(proc.stdout.decode().splitlines()[-1])["status"] == "failed"
    assert b"challenge" in proc.stderr


@pytest.mark.parametrize("profile,prefix", [("standard-webhooks", "webhook"), ("svix", "svix")])
def test_resigned_replays_verify_and_keep_the_message_id(wd, handler, import_stale, profile, prefix):
    lib = standardwebhooks.Webhook if profile == "standard-webhooks" else svix.webhooks.Webhook
    stale = [[f"{prefix}-id", "msg_kept"], [f"{prefix}-timestamp", "1614265330"], [f"{prefix}-signature", "v1,AAAA"]]
    request_id = import_stale("/hooks", stale, BODY)
    h = handler()
    wd("replay", request_id, "--resign", "--profile", profile, "--secret", SECRET, "--to", h.url)
    seen = h.seen[-1]
    assert seen.header(f"{prefix}-id") == "msg_kept"
    lib(SECRET).verify(seen.body, seen.header_dict())
    wd("replay", request_id, "--resign", "--new-id", "--profile", profile, "--secret", SECRET, "--to", h.url)
    assert h.seen[-1].header(f"{prefix}-id") != "msg_kept"
    lib(SECRET).verify(h.seen[-1].body, h.seen[-1].header_dict())



def test_resigned_slack_and_avala_replays_verify(wd, handler, import_stale):
    h = handler()
    slack_id = import_stale("/slack", [["x-slack-request-timestamp", "1600000000"], ["x-slack-signature", "v0=00"]], BODY)
    wd("replay", slack_id, "--resign", "--profile", "slack", "--secret", SLACK_SECRET, "--to", h.url)
    assert SignatureVerifier(SLACK_SECRET).is_valid_request(h.seen[-1].body, h.seen[-1].header_dict())
    avala_id = import_stale("/avala", [["x-avala-signature", "00"]], BODY)
    wd("replay", avala_id, "--resign", "--profile", "avala", "--secret", "avala-secret", "--to", h.url)
    assert avala_snippet_accepts("avala-secret", h.seen[-1].body, h.seen[-1].header("x-avala-signature"))


def infermedica_cases():
    token = "zGORr7q1I4egIr0c0eKXD7CMpIcjFooJ"
    yield "valid", {"x-webhook-infermedica-token": token}, True
    yield "wrong token", {"x-webhook-infermedica-token": "zGORr7q1I4egIr0c0eKXD7CMpIcjFooX"}, False
    yield "token with a space", {"x-webhook-infermedica-token": token + " "}, False
    yield "missing", {}, False


@pytest.mark.parametrize("case,headers,accepted", list(infermedica_cases()), ids=[c[0] for c in infermedica_cases()])
def test_infermedica_verdicts(verify, case, headers, accepted):
    """The document's check: the header equals the token registered with the configuration."""
    body = json.dumps({"event_type": "survey_finished", "content": {"survey_id": "s_1"}}).encode()
    verdict = verify("infermedica", "zGORr7q1I4egIr0c0eKXD7CMpIcjFooJ", headers, body)
    assert (verdict["status"] == "verified") == accepted, (case, verdict)
    assert verdict["status"] == "verified" or verdict["reason"]
    if case == "missing":
        assert verdict["status"] == "missing" and "x-webhook-infermedica-token" in verdict["reason"].lower()

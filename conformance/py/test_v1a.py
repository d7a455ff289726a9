"""Standard Webhooks v1a (ed25519), judged by Python's `cryptography`: no reference library
implements v1a yet, so the spec's construction is checked with a well-kept ed25519 implementation.
"""

import base64
import json
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def keys():
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return private, "whsk_" + base64.b64encode(seed).decode(), "whpk_" + base64.b64encode(public).decode()


def signed(private, msg_id, timestamp, body: bytes):
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1a," + base64.b64encode(private.sign(content)).decode()


def headers(msg_id, timestamp, signature):
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def accepts(public_text, seen):
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_text.removeprefix("whpk_")))
    content = f"{seen.header('webhook-id')}.{seen.header('webhook-timestamp')}.".encode() + seen.body
    for entry in seen.header("webhook-signature").split(" "):
        version, _, sig = entry.partition(",")
        if version != "v1a":
            continue
        try:
            public.verify(base64.b64decode(sig), content)
            return True
        except InvalidSignature:
            pass
    return False


BODY = json.dumps({"type": "contact.created", "timestamp": "2026-12-05T20:00:00Z", "data": {"id": "c_1"}}).encode()


@pytest.mark.parametrize(
    "case,edit,expected",
    [
        ("valid", lambda h, b: (h, b), "verified"),
        ("tampered", lambda h, b: (h, b + b" "), "invalid"),
        ("expired", None, "expired"),
        ("future", None, "expired"),
        ("no signature header", lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
        ("no timestamp header", lambda h, b: ({k: v for k, v in h.items() if k != "webhook-timestamp"}, b), "missing"),
        ("mixed list", lambda h, b: ({**h, "webhook-signature": "v1,AAAA " + h["webhook-signature"]}, b), "verified"),
    ],
)
def test_verdicts_agree_with_cryptography(verify, case, edit, expected):
    private, _, public = keys()
    now = int(time.time())
    ts = {"expired": now - 600, "future": now + 600}.get(case, now)
    h = headers("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts, signed(private, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts, BODY))
    body = BODY
    if edit:
        h, body = edit(h, body)
    verdict = verify("standard-webhooks", public, h, body)
    assert verdict["status"] == expected, verdict
    if expected != "verified":
        assert verdict["reason"]


def test_a_wrong_public_key_and_a_secret_key_are_refused_with_reasons(verify):
    private, secret, _ = keys()
    _, _, other_public = keys()
    ts = int(time.time())
    h = headers("msg_1", ts, signed(private, "msg_1", ts, BODY))
    wrong = verify("standard-webhooks", other_public, h, BODY)
    assert wrong["status"] == "invalid" and "no v1a signature matched" in wrong["reason"], wrong
    given_secret = verify("standard-webhooks", secret, h, BODY)
    assert given_secret["status"] == "invalid", given_secret
    assert "whsk_ secret key was given where the public whpk_ key is needed" in given_secret["reason"]


def test_trigger_and_resigned_replay_sign_v1a_as_cryptography_verifies(trigger, handler, wd, import_stale):
    _, secret, public = keys()
    h = handler()
    delivery, seen = trigger("standard-webhooks", "contact.created", h, secret)
    assert delivery["status"] == "success", delivery
    assert seen.header("webhook-signature").startswith("v1a,")
    assert accepts(public, seen)

    stale = [["webhook-id", "msg_kept"], ["webhook-timestamp", "1614265330"], ["webhook-signature", "v1a,AAAA"]]
    request_id = import_stale("/hooks", stale, BODY)
    wd("replay", request_id, "--resign", "--profile", "standard-webhooks", "--secret", secret, "--to", h.url)
    replayed = h.seen[-1]
    assert replayed.header("webhook-id") == "msg_kept"
    assert accepts(public, replayed)


def test_a_whsec_secret_facing_only_v1a_is_named(verify):
    private, _, _ = keys()
    ts = int(time.time())
    h = headers("msg_1", ts, signed(private, "msg_1", ts, BODY))
    verdict = verify("standard-webhooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, BODY)
    assert verdict["status"] == "invalid", verdict
    assert "v1a" in verdict["reason"] and "whpk_" in verdict["reason"], verdict


def test_a_whsk_key_of_seed_and_public_key_signs_as_cryptography_verifies(trigger, handler):
    private, _, public = keys()
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = base64.b64decode(public.removeprefix("whpk_"))
    long_secret = "whsk_" + base64.b64encode(seed + raw_public).decode()
    h = handler()
    delivery, seen = trigger("standard-webhooks", "contact.created", h, long_secret)
    assert delivery["status"] == "success", delivery
    assert accepts(public, seen)

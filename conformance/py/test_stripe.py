"""Stripe, judged by its official library (PyPI `stripe`): every trigger passes
`Webhook.construct_event`; verdicts agree with `WebhookSignature.verify_header`; a re-signed
replay is accepted."""

import json
import time
import tomllib
from pathlib import Path

import pytest
import stripe
from stripe import Webhook, WebhookSignature

PROFILE = tomllib.loads((Path(__file__).parents[2] / "assets/providers/stripe.toml").read_text())
EVENTS = [e["name"] for e in PROFILE["events"]]
SECRET = "whsec_test_conformance_secret_0123456789"


@pytest.mark.parametrize("event", EVENTS)
def test_every_trigger_passes_construct_event(trigger, handler, event):
    constructed = []

    def respond(seen):
        from conftest import Answer
        constructed.append(Webhook.construct_event(seen.body.decode(), seen.header("stripe-signature"), SECRET))
        return Answer()

    h = handler(respond)
    delivery, _ = trigger("stripe", event, h, SECRET)
    assert constructed, f"construct_event refused it: {delivery}"
    assert constructed[0].type == event
    assert constructed[0]["object"] == "event"
    assert delivery["status"] == "success", delivery


BODY = json.loads(next(e for e in PROFILE["events"])["sample"])
BODY = json.dumps(BODY)


def header(ts, *signatures, extra=""):
    items = [f"t={ts}"] + [f"v1={s}" for s in signatures]
    return ",".join(items) + extra


def mac(ts, body=BODY, secret=SECRET):
    return WebhookSignature._compute_signature(f"{ts}.{body}", secret)


def library_accepts(sig_header, body):
    try:
        WebhookSignature.verify_header(body, sig_header, SECRET, Webhook.DEFAULT_TOLERANCE)
        return True
    except stripe.SignatureVerificationError:
        return False


def cases():
    now = int(time.time())
    yield "valid", {"stripe-signature": header(now, mac(now))}, BODY
    yield "tampered", {"stripe-signature": header(now, mac(now))}, BODY + " "
    yield "wrong secret", {"stripe-signature": header(now, mac(now, secret="whsec_other"))}, BODY
    yield "400 s old", {"stripe-signature": header(now - 400, mac(now - 400))}, BODY
    yield "600 s ahead", {"stripe-signature": header(now + 600, mac(now + 600))}, BODY
    yield "rotation", {"stripe-signature": header(now, "0" * 64, mac(now))}, BODY
    yield "v0 only", {"stripe-signature": f"t={now},v0={mac(now)}"}, BODY
    yield "no t=", {"stripe-signature": f"v1={mac(now)}"}, BODY
    yield "upper-case hex", {"stripe-signature": header(now, mac(now).upper())}, BODY
    yield "missing header", {}, BODY


@pytest.mark.parametrize("case,headers,body", list(cases()), ids=[c[0] for c in cases()])
def test_verdicts_agree_with_verify_header(verify, case, headers, body):
    verdict = verify("stripe", SECRET, headers, body.encode())
    expected = library_accepts(headers.get("stripe-signature"), body) if headers else False
    assert (verdict["status"] == "verified") == expected, (case, verdict)
    if verdict["status"] != "verified":
        assert verdict["reason"], verdict


def test_a_resigned_replay_passes_construct_event(wd, handler, import_stale):
    request_id = import_stale("/stripe", [["stripe-signature", "t=1600000000,v1=00"]], BODY.encode())
    h = handler()
    wd("replay", request_id, "--resign", "--profile", "stripe", "--secret", SECRET, "--to", h.url)
    seen = h.seen[-1]
    Webhook.construct_event(seen.body.decode(), seen.header("stripe-signature"), SECRET)

"""Avara, judged by its official SDK (PyPI `avara`): every trigger unwraps and validates strictly
with every data field present; signature verdicts agree with the SDK's verifier; a re-signed
replay is accepted and keeps its message id."""

import base64
from datetime import datetime, timezone
import json
import os
import time
import tomllib
from pathlib import Path

import avara
import pydantic
import pytest
from avara.types import UnwrapWebhookEvent
from standardwebhooks import Webhook

PROFILE = tomllib.loads((Path(__file__).parents[2] / "assets/providers/avara.toml").read_text())
EVENTS = [e["name"] for e in PROFILE["events"]]
SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
CLIENT = avara.Avara(api_key="test-key", base_url="http://127.0.0.1:9/never-called")


def sdk_unwrap(seen):
    """What a customer's handler does: the SDK verifies and parses, then strict validation."""
    event = CLIENT.webhooks.unwrap(seen.body.decode(), headers=seen.header_dict(), key=SECRET)
    strict = pydantic.TypeAdapter(UnwrapWebhookEvent).validate_json(seen.body)
    return event, strict


def test_the_catalog_holds_all_seven_sdk_events():
    assert sorted(EVENTS) == sorted([
        "report.delivered", "study.access_requested", "secondary_capture.access_requested",
        "ephemeral.access_requested", "modality_worklist.requested",
        "patient_study.enrichment_requested", "clinical_context.enrichment_requested",
    ])


@pytest.mark.parametrize("event", EVENTS)
def test_every_trigger_is_accepted_by_the_sdk_with_every_field(trigger, handler, event):
    spec = next(e for e in PROFILE["events"] if e["name"] == event)
    unwrapped = []

    def respond(seen):
        from conftest import Answer
        parsed, strict = sdk_unwrap(seen)
        unwrapped.append((parsed, strict))
        return Answer(200, spec["answer_sample"].encode())

    h = handler(respond)
    delivery, seen = trigger("avara", event, h, SECRET)
    assert unwrapped, f"the SDK refused it: {h.seen and delivery}"
    parsed, strict = unwrapped[0]
    assert parsed.type == event and strict.type == event
    sample_fields = json.loads(spec["sample"])["data"].keys()
    dumped = strict.data.model_dump(by_alias=True)
    for field in sample_fields:
        assert dumped.get(field) is not None, f"{event}: {field} came back None"
    assert delivery["status"] == "success", delivery


def sign(msg_id, ts, body, secret=SECRET):
    return Webhook(secret).sign(msg_id, ts, body)


def sdk_accepts(headers, body):
    try:
        CLIENT.webhooks.unwrap(body.decode(), headers=headers, key=SECRET)
        return True
    except Exception:
        return False


BODY = json.loads(next(e for e in PROFILE["events"] if e["name"] == "report.delivered")["sample"])
BODY = json.dumps(BODY).encode()


def cases():
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc)
    other = "whsec_" + base64.b64encode(b"another secret of 24 b!!").decode()
    good = lambda at=now: {"webhook-id": "msg_1", "webhook-timestamp": str(int(at.timestamp())),
                           "webhook-signature": sign("msg_1", at, BODY.decode())}
    yield "valid", good(), BODY
    yield "tampered", good(), BODY + b" "
    yield "wrong secret", {**good(), "webhook-signature": sign("msg_1", now, BODY.decode(), other)}, BODY
    yield "10 min old", good(now - timedelta(minutes=10)), BODY
    yield "10 min ahead", good(now + timedelta(minutes=10)), BODY
    yield "no signature", {k: v for k, v in good().items() if k != "webhook-signature"}, BODY
    yield "no id", {k: v for k, v in good().items() if k != "webhook-id"}, BODY
    yield "no timestamp", {k: v for k, v in good().items() if k != "webhook-timestamp"}, BODY
    yield "rotation", {**good(), "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + good()["webhook-signature"]}, BODY
    yield "unknown version", {**good(), "webhook-signature": good()["webhook-signature"].replace("v1,", "v9,")}, BODY


@pytest.mark.parametrize("case,headers,body", list(cases()), ids=[c[0] for c in cases()])
def test_verdicts_agree_with_the_sdk(verify, case, headers, body):
    verdict = verify("avara", SECRET, headers, body)
    assert (verdict["status"] == "verified") == sdk_accepts(headers, body), (case, verdict)
    if verdict["status"] != "verified":
        assert verdict["reason"], verdict


def test_a_resigned_replay_is_accepted_and_keeps_its_message_id(wd, handler, import_stale):
    stale = [["webhook-id", "msg_original"], ["webhook-timestamp", str(int(time.time()) - 3600)],
             ["webhook-signature", "v1,AAAA"]]
    request_id = import_stale("/avara", stale, BODY)
    h = handler()
    wd("replay", request_id, "--resign", "--profile", "avara", "--secret", SECRET, "--to", h.url)
    seen = h.seen[-1]
    assert seen.header("webhook-id") == "msg_original"
    sdk_unwrap(seen)
    wd("replay", request_id, "--resign", "--new-id", "--profile", "avara", "--secret", SECRET, "--to", h.url)
    assert h.seen[-1].header("webhook-id") != "msg_original"
    sdk_unwrap(h.seen[-1])


SDK_SCHEMA = pydantic.TypeAdapter(UnwrapWebhookEvent).json_schema(by_alias=True)["$defs"]


def sdk_data_schema(event):
    """The SDK's JSON schema (wire names) of `event`'s data model."""
    for name, model in SDK_SCHEMA.items():
        if not name.endswith("Event"):
            continue
        if model["properties"]["type"].get("const") == event or model["properties"]["type"].get("enum") == [event]:
            ref = model["properties"]["data"]["$ref"].split("/")[-1]
            return SDK_SCHEMA[ref]
    raise AssertionError(f"the SDK has no model for {event}")


@pytest.mark.parametrize("event", EVENTS)
def test_our_schema_requires_and_names_what_the_sdk_does(event):
    sdk = sdk_data_schema(event)
    ours = json.loads(next(e for e in PROFILE["events"] if e["name"] == event)["schema"])
    data = ours["properties"]["data"]
    assert sorted(data.get("required", [])) == sorted(sdk["required"]), event
    assert sorted(data["properties"]) == sorted(sdk["properties"]), event


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("shape", ["required fields only", "every field"])
def test_an_event_the_sdk_accepts_has_no_schema_problems_here(verify, event, shape):
    sample = json.loads(next(e for e in PROFILE["events"] if e["name"] == event)["sample"])
    if shape == "required fields only":
        required = sdk_data_schema(event)["required"]
        sample["data"] = {k: v for k, v in sample["data"].items() if k in required}
    body = json.dumps(sample).encode()
    pydantic.TypeAdapter(UnwrapWebhookEvent).validate_json(body)  # the SDK accepts it
    headers = {"webhook-id": "msg_shape", "webhook-timestamp": str(int(time.time())),
               "webhook-signature": sign("msg_shape", datetime.now(timezone.utc), body.decode())}
    result = verify("avara", SECRET, headers, body, whole=True)
    assert result["signature"]["status"] == "verified", result
    assert result["event_type"] == event
    assert result["schema"]["problems"] == [], result

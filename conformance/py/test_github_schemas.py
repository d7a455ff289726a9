"""GitHub's payloads, judged by the official JSON schemas of npm's `@octokit/webhooks-schemas`:
every sample in the catalog, and every body `trigger github` actually sends (with fresh ids and
timestamps), validates against the schema of its event and action."""

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).parents[2]
SCHEMAS = json.loads((ROOT / "conformance/node_modules/@octokit/webhooks-schemas/schema.json").read_text())
PROFILE = tomllib.loads((ROOT / "assets/providers/github.toml").read_text())
EVENTS = [e["name"] for e in PROFILE["events"]]


def problems(event, payload):
    action = payload.get("action")
    key = f"{event}${action}" if action and f"{event}${action}" in SCHEMAS["definitions"] else f"{event}$event"
    assert key in SCHEMAS["definitions"], f"no official schema for {key}"
    validator = jsonschema.Draft7Validator(
        {"$ref": f"#/definitions/{key}", "definitions": SCHEMAS["definitions"]},
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    return [f"{list(e.path)}: {e.message[:160]}" for e in validator.iter_errors(payload)]


def test_the_catalog_covers_twenty_events():
    assert len(EVENTS) >= 20, EVENTS


@pytest.mark.parametrize("event", EVENTS)
def test_samples_match_the_official_schemas(event):
    sample = json.loads(next(e for e in PROFILE["events"] if e["name"] == event)["sample"])
    assert problems(event, sample) == []


@pytest.mark.parametrize("event", EVENTS)
def test_triggered_bodies_match_the_official_schemas(trigger, handler, event):
    delivery, seen = trigger("github", event, handler(), "a secret")
    assert delivery["status"] == "success"
    assert seen.header("x-github-event") == event
    assert problems(event, json.loads(seen.body)) == []

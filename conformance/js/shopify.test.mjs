// Shopify, judged by its official library: @shopify/shopify-api's webhooks.validate accepts every
// trigger, and webhook-dev's verdicts agree with it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHmac } from "node:crypto";
import "@shopify/shopify-api/adapters/node";
import { shopifyApi, ApiVersion, LogSeverity } from "@shopify/shopify-api";
import { tempStore, startHandler, trigger, verify, replayResigned, cleanup } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const toml = readFileSync(join(here, "..", "..", "assets", "providers", "shopify.toml"), "utf8");
const TOPICS = [...toml.matchAll(/^\[\[events\]\]\s*\nname = "([^"]+)"/gm)].map((m) => m[1]);
const SECRET = "shpss_conformance_test_secret";

const shopify = shopifyApi({
  apiKey: "test-key",
  apiSecretKey: SECRET,
  hostName: "localhost",
  apiVersion: ApiVersion.October25,
  isEmbeddedApp: false,
  logger: { level: LogSeverity.Error, log: () => {} },
});

/** Runs webhooks.validate on a request as a Node app would. */
async function validate(req, body) {
  return shopify.webhooks.validate({ rawBody: body.toString(), rawRequest: req, rawResponse: {} });
}

test("every Shopify trigger passes webhooks.validate", async () => {
  assert.ok(TOPICS.length >= 3);
  const store = tempStore();
  const results = [];
  const handler = await startHandler(async (req, body) => {
    const result = await validate(req, body);
    results.push(result);
    return { status: result.valid ? 200 : 401, body: JSON.stringify(result) };
  });
  try {
    for (const topic of TOPICS) {
      const { delivery, proc } = await trigger(store, "shopify", topic, handler, SECRET);
      const result = results.at(-1);
      assert.equal(result.valid, true, `${topic}: ${JSON.stringify(result)} ${proc.stderr}`);
      assert.equal(result.topic, topic.toUpperCase().replace("/", "_"));
      assert.equal(result.domain, "webhook-dev-test.myshopify.com");
      assert.match(result.eventId ?? "", /^[0-9a-f-]{36}$/, `${topic}: X-Shopify-Event-Id`);
      assert.ok(!Number.isNaN(Date.parse(result.triggeredAt)), `${topic}: X-Shopify-Triggered-At`);
      assert.equal(result.apiVersion, "2025-10");
      assert.equal(delivery.status, "success");
    }
  } finally {
    await handler.close();
    cleanup(store);
  }
});

test("verdicts agree with webhooks.validate", async () => {
  const store = tempStore();
  const body = JSON.stringify({ id: 820982911946154508, email: "jon@example.com" });
  const hmac = (payload, secret = SECRET) => createHmac("sha256", secret).update(payload).digest("base64");
  const base = {
    "x-shopify-topic": "orders/create",
    "x-shopify-shop-domain": "webhook-dev-test.myshopify.com",
    "x-shopify-api-version": "2025-10",
    "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
  };
  const without = (name) => Object.fromEntries(Object.entries({ ...base, "x-shopify-hmac-sha256": hmac(body) }).filter(([n]) => n !== name));
  const cases = [
    ["valid", { ...base, "x-shopify-hmac-sha256": hmac(body) }, body],
    ["tampered", { ...base, "x-shopify-hmac-sha256": hmac(body) }, body + " "],
    ["wrong secret", { ...base, "x-shopify-hmac-sha256": hmac(body, "other") }, body],
    ["empty body", { ...base, "x-shopify-hmac-sha256": hmac("") }, ""],
    ["no topic", without("x-shopify-topic"), body],
    ["no shop domain", without("x-shopify-shop-domain"), body],
    ["no api version", without("x-shopify-api-version"), body],
    ["no webhook id", without("x-shopify-webhook-id"), body],
    ["no hmac", without("x-shopify-hmac-sha256"), body],
  ];
  // The library reads a Node request: give it one through a real handler.
  let last;
  const handler = await startHandler(async (req, raw) => {
    last = await validate(req, raw);
    return { status: 200, body: "{}" };
  });
  try {
    for (const [name, headers, payload] of cases) {
      await fetch(handler.url, { method: "POST", headers, body: payload });
      const verdict = verify(store, "shopify", SECRET, headers, payload);
      assert.equal(verdict.status === "verified", last.valid, `${name}: ${JSON.stringify(verdict)} vs ${JSON.stringify(last)}`);
      if (verdict.status !== "verified") assert.ok(verdict.reason, name);
    }
  } finally {
    await handler.close();
    cleanup(store);
  }
});

test("a re-signed replay passes webhooks.validate", async () => {
  const store = tempStore();
  const body = JSON.stringify({ id: 1, name: "#1001" });
  let result;
  const handler = await startHandler(async (req, raw) => {
    result = await validate(req, raw);
    return { status: 200, body: "{}" };
  });
  try {
    await replayResigned(store, {
      path: "/webhooks/shopify",
      headers: [["x-shopify-topic", "orders/create"], ["x-shopify-shop-domain", "webhook-dev-test.myshopify.com"],
        ["x-shopify-api-version", "2025-10"], ["x-shopify-webhook-id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"],
        ["x-shopify-hmac-sha256", "AAAA"]],
      body,
      profile: "shopify",
      secret: SECRET,
      handler,
    });
    assert.equal(result?.valid, true, JSON.stringify(result));
  } finally {
    await handler.close();
    cleanup(store);
  }
});

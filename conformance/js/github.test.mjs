// GitHub, judged by its official libraries: every trigger is received by @octokit/webhooks'
// createNodeMiddleware, and verdicts agree with @octokit/webhooks-methods' verify.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { Webhooks, createNodeMiddleware } from "@octokit/webhooks";
import { sign, verify as octokitVerify } from "@octokit/webhooks-methods";
import { tempStore, startHandler, trigger, verify, replayResigned, cleanup } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const toml = readFileSync(join(here, "..", "..", "assets", "providers", "github.toml"), "utf8");
const EVENTS = [...toml.matchAll(/^\[\[events\]\]\s*\nname = "([^"]+)"/gm)].map((m) => m[1]);
const SECRET = "It's a Secret to Everybody";

test("every GitHub trigger is received by @octokit/webhooks", async () => {
  assert.ok(EVENTS.length >= 3);
  const store = tempStore();
  const webhooks = new Webhooks({ secret: SECRET });
  const received = [];
  webhooks.onAny(({ id, name, payload }) => received.push({ id, name, payload }));
  const handler = await startHandler({ listener: createNodeMiddleware(webhooks) });
  try {
    for (const event of EVENTS) {
      const target = { ...handler, url: `${handler.url}/api/github/webhooks` };
      const { delivery, proc } = await trigger(store, "github", event, target, SECRET);
      assert.equal(delivery?.status, "success", `${event}: ${proc.stderr}`);
      const last = received.at(-1);
      assert.equal(last.name, event);
      assert.match(last.id, /^[0-9a-f-]{36}$/, "X-GitHub-Delivery is a GUID");
      const seen = handler.seen.at(-1).headers;
      assert.match(seen["user-agent"], /^GitHub-Hookshot\//);
      assert.ok(seen["x-hub-signature"].startsWith("sha1="), "the legacy header is sent too");
      assert.match(seen["x-github-hook-id"], /^[0-9]+$/);
      const app = last.payload.installation?.app_id;
      const owner = event.startsWith("installation") ? ["integration", app] : ["repository", last.payload.repository?.id];
      assert.equal(seen["x-github-hook-installation-target-type"], owner[0], event);
      assert.equal(seen["x-github-hook-installation-target-id"], String(owner[1]), event);
    }
  } finally {
    await handler.close();
    cleanup(store);
  }
});

test("verdicts agree with @octokit/webhooks-methods verify", async () => {
  const store = tempStore();
  const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
  const good = await sign(SECRET, body);
  const sha1 = "sha1=" + createHash("sha1").update(body).digest("hex"); // not an HMAC: replaced below
  const { createHmac } = await import("node:crypto");
  const legacy = "sha1=" + createHmac("sha1", SECRET).update(body).digest("hex");
  const cases = [
    ["valid", { "x-hub-signature-256": good }, body],
    ["tampered", { "x-hub-signature-256": good }, body + " "],
    ["wrong secret", { "x-hub-signature-256": await sign("other", body) }, body],
    ["legacy sha1 only", { "x-hub-signature": legacy }, body],
    ["upper-case hex", { "x-hub-signature-256": "sha256=" + good.slice(7).toUpperCase() }, body],
    ["prefix missing", { "x-hub-signature-256": good.slice(7) }, body],
    ["garbage sha1", { "x-hub-signature": sha1 }, body],
    ["missing header", {}, body],
  ];
  try {
    for (const [name, headers, payload] of cases) {
      const signature = headers["x-hub-signature-256"];
      const expected = signature ? await octokitVerify(SECRET, payload, signature) : false;
      const verdict = verify(store, "github", SECRET, { "x-github-event": "ping", ...headers }, payload);
      assert.equal(verdict.status === "verified", expected, `${name}: ${JSON.stringify(verdict)}`);
      if (verdict.status !== "verified") assert.ok(verdict.reason, name);
    }
  } finally {
    cleanup(store);
  }
});

test("a re-signed replay is accepted by verify", async () => {
  const store = tempStore();
  const body = JSON.stringify({ zen: "Design for failure.", hook_id: 2 });
  const handler = await startHandler();
  try {
    await replayResigned(store, {
      path: "/api/github/webhooks",
      headers: [["x-github-event", "ping"], ["x-hub-signature-256", "sha256=00"]],
      body,
      profile: "github",
      secret: SECRET,
      handler,
    });
    const seen = handler.seen.at(-1);
    assert.ok(await octokitVerify(SECRET, seen.body.toString(), seen.headers["x-hub-signature-256"]));
  } finally {
    await handler.close();
    cleanup(store);
  }
});

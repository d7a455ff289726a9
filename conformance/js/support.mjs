// Shared helpers of the Node conformance tests: the real webhook-dev binary, a real handler on
// 127.0.0.1:0, and fixture files for `webhook-dev verify`. Every test talks only to loopback.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.WEBHOOK_DEV_BIN || join(here, "..", "..", "target", "debug", "webhook-dev");

/** A fresh store directory; remove it with `rmSync(dir, {recursive: true})` or `cleanup()`. */
export function tempStore() {
  return mkdtempSync(join(tmpdir(), "webhook-dev-conformance-"));
}

/** Runs the binary with `store`; throws on a non-zero exit unless `check` is false. */
export function wd(store, args, { check = true } = {}) {
  const proc = spawnSync(BIN, ["--store", store, ...args.map(String)], { encoding: "utf8", timeout: 60_000 });
  if (check && proc.status !== 0) {
    throw new Error(`webhook-dev ${args.join(" ")} exited ${proc.status}:\n${proc.stderr}`);
  }
  return proc;
}

/**
 * A handler on 127.0.0.1:0. `respond(req, body) -> {status, headers, body}` (may be async; body
 * a string or Buffer), or a Node request listener given as `{ listener }` (e.g. an
 * @octokit/webhooks middleware). Every request is kept in `seen` as {method, url, headers, body}.
 */
export async function startHandler(respond) {
  const seen = [];
  const server = createServer(async (req, res) => {
    if (respond && respond.listener) {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: null });
      return respond.listener(req, res);
    }
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method, url: req.url, headers: req.headers, body });
    let answer = { status: 200, headers: { "content-type": "application/json" }, body: '{"ok":true}' };
    if (respond) {
      try {
        answer = { ...answer, ...(await respond(req, body)) };
      } catch (e) {
        answer = { status: 400, headers: { "content-type": "text/plain" }, body: `${e.name}: ${e.message}` };
      }
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Sends one event with no retries: returns {delivery, seen, proc}. `handler` must be running;
 * `extra` are further arguments (e.g. ["--set", "data.x=1"]).
 */
export async function trigger(store, profile, event, handler, secret, extra = []) {
  const before = handler.seen.length;
  const args = ["trigger", profile, event, "--to", handler.url, "--retry-schedule", "none", "--json"];
  if (secret !== undefined && secret !== null) args.push("--secret", secret);
  // Run asynchronously so the in-process handler can answer.
  const { spawn } = await import("node:child_process");
  const proc = await new Promise((resolve, reject) => {
    const child = spawn(BIN, ["--store", store, ...args, ...extra]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
  const lines = proc.stdout.trim().split("\n").filter(Boolean);
  const delivery = lines.length ? JSON.parse(lines[lines.length - 1]) : null;
  return { delivery, seen: handler.seen[before] ?? null, proc };
}

/**
 * The `signature` verdict of `webhook-dev verify FIXTURE --json` for a request with `headers`
 * ({name: value} or [[name, value]]) and `body` (a string). Timestamps are judged against
 * `receivedAt` (RFC 3339) when given, else now.
 */
export function verify(store, profile, secret, headers, body, { receivedAt, path = "/webhooks" } = {}) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const fixture = {
    webhook_dev_fixture: 1,
    method: "POST",
    path,
    headers: pairs,
    body: { encoding: "utf8", data: body },
  };
  if (receivedAt) fixture.received_at = receivedAt;
  const file = join(store, `fixture-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(fixture));
  const args = ["verify", file, "--profile", profile, "--json"];
  if (secret !== undefined && secret !== null) args.push("--secret", secret);
  if (!receivedAt) args.push("--now");
  const proc = wd(store, args, { check: false });
  if (!proc.stdout.trim()) throw new Error(`verify printed nothing: ${proc.stderr}`);
  return JSON.parse(proc.stdout.trim()).signature;
}

export function cleanup(store) {
  rmSync(store, { recursive: true, force: true });
}

/**
 * Stores a request with stale signature headers through `webhook-dev import` and replays it
 * re-signed to `handler` as `profile` with `secret`. Resolves when the replay has ended.
 */
export async function replayResigned(store, { path, headers, body, profile, secret, handler }) {
  const fixture = {
    webhook_dev_fixture: 1,
    method: "POST",
    path,
    headers: [["content-type", "application/json"], ...headers],
    body: { encoding: "utf8", data: body },
  };
  const file = join(store, `stale-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(fixture));
  wd(store, ["import", file]);
  const id = JSON.parse(wd(store, ["requests", "list", "--json"]).stdout.trim().split("\n").at(-1)).id;
  const { spawn } = await import("node:child_process");
  await new Promise((resolve, reject) => {
    const child = spawn(BIN, ["--store", store, "replay", id, "--resign", "--profile", profile, "--secret", secret, "--to", handler.url]);
    child.on("error", reject);
    child.on("close", resolve);
  });
}

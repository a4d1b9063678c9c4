#!/usr/bin/env bun
/**
 * Session benchmark: is resolving a session token as fast with 100,000 sessions as with 10?
 *
 * For each registry size (10 = baseline, 10,000, 100,000) it measures
 *   - in-process: SessionRegistry.resolve() of a registered token (SHA-256 + Map lookup);
 *   - through the daemon: a `session.resolve` round trip on a real Unix socket, one at a time;
 * and the registration rate (in-process, and pipelined through the socket). All sizes stay loaded
 * at once and rounds alternate between them, so machine noise and heap size hit every size alike.
 * Prints medians and the ratio to the 10-session baseline (target: within 1.20). No assertions.
 *   bun scripts/bench/session.ts [--no-daemon] [--rounds N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDaemon, type DaemonClient } from "../../src/daemon/client.ts";
import { startDaemon } from "../../src/daemon/server.ts";
import { createSessionExtension } from "../../src/session/extension.ts";
import { SessionRegistry } from "../../src/session/registry.ts";
import { mintToken } from "../../src/session/token.ts";

const SIZES = [10, 10_000, 100_000];
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const ROUNDS = arg("--rounds", 15);
const IN_PROCESS_PER_ROUND = 20_000;
const SOCKET_PER_ROUND = 1_000;
const withDaemon = !process.argv.includes("--no-daemon");

// `--serve SOCKET TOKENFILE`: the child process each size's daemon runs in, as a real daemon would:
// its own process and heap, not sharing caches with the benchmark's in-process registries.
const serve = process.argv.indexOf("--serve");
if (serve !== -1) {
  const ext = createSessionExtension({ store: null, isAlive: () => true });
  const d = await startDaemon({ socketPath: process.argv[serve + 1]!, tokenFile: process.argv[serve + 2]!, extensions: [ext] });
  process.on("SIGTERM", () => void d.stop().then(() => process.exit(0)));
  process.stdout.write("ready\n");
  await new Promise(() => {});
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const input = (token: string, i: number) => ({ token, name: "bench", scope: `s${i % 7}`, pid: process.pid, cwd: "/" });
/** A fresh copy of a token, as one arriving off the socket would be (not a string hot in cache). */
const copy = (t: string) => Buffer.from(t).toString("latin1");
const pick = (tokens: string[], n: number) => Array.from({ length: n }, () => copy(tokens[Math.floor(Math.random() * tokens.length)]!));

interface Size {
  n: number;
  tokens: string[];
  registry: SessionRegistry;
  regPerSec: number;
  inProc: number[];
  daemon?: Bun.Subprocess;
  client?: DaemonClient;
  socketRegPerSec?: number;
  socket: number[];
}

function fill(registry: SessionRegistry, tokens: string[]): number {
  const t0 = Bun.nanoseconds();
  tokens.forEach((t, i) => registry.register(input(t, i)));
  return tokens.length / ((Bun.nanoseconds() - t0) / 1e9);
}

/** Mean ns per resolve over one round of lookups. */
function inProcessRound(s: Size): number {
  const picks = pick(s.tokens, IN_PROCESS_PER_ROUND);
  const t0 = Bun.nanoseconds();
  let found = 0;
  for (const t of picks) if (s.registry.resolve(t)) found++;
  const ns = (Bun.nanoseconds() - t0) / picks.length;
  if (found !== picks.length) throw new Error("a registered token did not resolve");
  return ns;
}

/** Mean µs per sequential session.resolve round trip over one round. */
async function socketRound(s: Size): Promise<number> {
  const picks = pick(s.tokens, SOCKET_PER_ROUND);
  const t0 = Bun.nanoseconds();
  for (const token of picks) {
    const r = await s.client!.call("session.resolve", { token });
    if (!r.session) throw new Error("a registered token did not resolve through the daemon");
  }
  return (Bun.nanoseconds() - t0) / picks.length / 1000;
}

// Warm the JIT so the first size is not charged for compiling register() and resolve().
{
  const warm = new SessionRegistry();
  const tokens = Array.from({ length: 20_000 }, () => mintToken());
  fill(warm, tokens);
  inProcessRound({ n: 0, tokens, registry: warm, regPerSec: 0, inProc: [], socket: [] });
}

const dir = mkdtempSync(join(tmpdir(), "tokenctl-bench-"));
const sizes: Size[] = [];
try {
  for (const n of SIZES) {
    const tokens = Array.from({ length: n }, () => mintToken());
    const registry = new SessionRegistry();
    const s: Size = { n, tokens, registry, regPerSec: fill(registry, tokens), inProc: [], socket: [] };
    if (withDaemon) {
      // A daemon in its own process, filled through the socket: the registration rate end to end.
      const socketPath = join(dir, `${n}.sock`);
      const tokenFile = join(dir, `${n}.token`);
      s.daemon = Bun.spawn([process.execPath, import.meta.path, "--serve", socketPath, tokenFile], { stdout: "pipe", stderr: "inherit" });
      const reader = (s.daemon.stdout as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // "ready"
      reader.releaseLock();
      s.client = await connectDaemon({ socketPath, tokenFile, timeoutMs: 60_000 });
      const t0 = Bun.nanoseconds();
      for (let i = 0; i < n; i += 500) await Promise.all(tokens.slice(i, i + 500).map((t, j) => s.client!.call("session.register", input(t, i + j))));
      s.socketRegPerSec = n / ((Bun.nanoseconds() - t0) / 1e9);
      const count = ((await s.client.call("status")).session as { sessions: number }).sessions;
      if (count !== n) throw new Error(`expected ${n} sessions in the daemon, found ${count}`);
    }
    sizes.push(s);
  }
  if (withDaemon) for (const s of sizes) await socketRound(s); // warm up the socket path too
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of sizes) {
      s.inProc.push(inProcessRound(s));
      if (withDaemon) s.socket.push(await socketRound(s));
    }
  }
} finally {
  for (const s of sizes) {
    s.client?.close();
    s.daemon?.kill("SIGTERM");
    await s.daemon?.exited;
  }
  rmSync(dir, { recursive: true, force: true });
}

const base = sizes[0]!;
const b = { inProc: median(base.inProc), socket: withDaemon ? median(base.socket) : NaN };
console.log(`session.resolve latency, median of ${ROUNDS} alternating rounds (${IN_PROCESS_PER_ROUND} in-process / ${SOCKET_PER_ROUND} socket lookups each)`);
console.log(`ratio = this size / the ${base.n}-session baseline; target <= 1.20\n`);
// The best round too: on a shared machine other load only ever adds time, so the minimum is the
// steadiest estimate of the intrinsic cost; the median is what a caller typically sees.
const best = (xs: number[]) => Math.min(...xs);
const bb = { inProc: best(base.inProc), socket: withDaemon ? best(base.socket) : NaN };
const head = [
  "sessions",
  "in-process ns",
  "ratio",
  "best ratio",
  ...(withDaemon ? ["socket µs", "ratio", "best ratio"] : []),
  "register/s in-process",
  ...(withDaemon ? ["register/s socket"] : []),
];
const table = sizes.map((s) => [
  String(s.n),
  fmt(median(s.inProc), 0),
  fmt(median(s.inProc) / b.inProc),
  fmt(best(s.inProc) / bb.inProc),
  ...(withDaemon ? [fmt(median(s.socket), 1), fmt(median(s.socket) / b.socket), fmt(best(s.socket) / bb.socket)] : []),
  s.n >= 10_000 ? fmt(s.regPerSec, 0) : "-",
  ...(withDaemon ? [s.n >= 10_000 ? fmt(s.socketRegPerSec!, 0) : "-"] : []),
]);
const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
for (const row of [head, ...table]) console.log(row.map((c, i) => c.padStart(widths[i]!)).join("  "));

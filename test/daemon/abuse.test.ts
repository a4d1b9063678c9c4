/**
 * Daemon abuse (issue 7): a real daemon in its own process (`bun src/bin.ts daemon`, so its RSS is
 * its own) takes 2,000 hostile connections — random bytes, invalid UTF-8, huge lines, wrong JSON
 * types in the auth message, idle sockets — from an attacker process (test/support/abuser.ts),
 * while 32 authenticated clients keep pinging. Their p99 must stay within 5x the unloaded p99
 * measured just before, the daemon's RSS must grow by less than 64 MiB, and it must still answer.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { requestOnce } from "../support/peer.ts";
import { tempDir } from "../support/tmp.ts";

const ROOT = join(import.meta.dir, "..", "..");
const CLIENTS = 32;
const ATTACKS = 2_000;
/** In flight at once: 2 cores run the daemon, the attacker and the clients. */
const CONCURRENCY = 64;

const children: ReturnType<typeof Bun.spawn>[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Pinger {
  /** Ping-pong round trips (ms) since the last take(). */
  take(): number[];
  stop(): void;
}

/** One authenticated client pinging back to back; resolves once authenticated. */
async function pinger(socketPath: string, token: string): Promise<Pinger> {
  let samples: number[] = [];
  let sentAt = 0;
  let running = true;
  let buf = "";
  let authed: () => void;
  const ready = new Promise<void>((r) => (authed = r));
  let id = 0;
  const socket = await Bun.connect({
    unix: socketPath,
    socket: {
      open(s) {
        s.write(`${JSON.stringify({ type: "auth", token })}\n`);
      },
      data(s, d) {
        buf += d.toString("utf8");
        let i: number;
        while ((i = buf.indexOf("\n")) !== -1) {
          const frame = JSON.parse(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (frame.type === "auth_result") {
            if (!frame.ok) throw new Error("pinger refused");
            authed();
          } else if (frame.type !== "pong") throw new Error(`unexpected frame ${frame.type}`);
          else samples.push(performance.now() - sentAt);
          if (!running) return;
          sentAt = performance.now();
          s.write(`{"type":"ping","id":${++id}}\n`);
        }
      },
      close() {
        if (running) throw new Error("the daemon closed an authenticated client");
      },
    },
  });
  await ready;
  return {
    take() {
      const out = samples;
      samples = [];
      return out;
    },
    stop() {
      running = false;
      socket.end();
    },
  };
}

test(`${ATTACKS} hostile connections while ${CLIENTS} clients ping: p99 within 5x, RSS growth under 64 MiB, daemon still answers`, async () => {
  const dir = tempDir("tokenctl-abuse-");
  const socketPath = join(dir, "run", "d.sock");
  const daemon = Bun.spawn([process.execPath, join(ROOT, "src", "bin.ts"), "daemon", "--socket", socketPath, "--auth-timeout", "1s", "--json"], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_STATE_HOME: join(dir, "state"), XDG_CONFIG_HOME: join(dir, "config"), NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "ignore",
  });
  children.push(daemon);
  const reader = (daemon.stdout as ReadableStream<Uint8Array>).getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  const { tokenFile, pid } = JSON.parse(first) as { tokenFile: string; pid: number };
  const token = readFileSync(tokenFile, "utf8").trim();

  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => pinger(socketPath, token)));
  await Bun.sleep(1000); // warm up: JIT, allocator
  for (const c of clients) c.take();
  const rssBefore = rssKiB(pid);

  await Bun.sleep(2500);
  const unloaded = clients.flatMap((c) => c.take()).sort((a, b) => a - b);

  const attacker = Bun.spawn([process.execPath, join(ROOT, "test", "support", "abuser.ts"), socketPath, String(ATTACKS), String(CONCURRENCY), String(Date.now() % 1e6)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  children.push(attacker);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKiB(pid))), 50);
  const [out, err, code] = await Promise.all([new Response(attacker.stdout as ReadableStream).text(), new Response(attacker.stderr as ReadableStream).text(), attacker.exited]);
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, rssKiB(pid));
  const loaded = clients.flatMap((c) => c.take()).sort((a, b) => a - b);
  expect(err).toBe("");
  expect(code).toBe(0);
  const summary = JSON.parse(out) as { total: number; byKind: Record<string, { n: number; closedByDaemon: number; lastFrames: Record<string, number> }> };

  const p99Unloaded = percentile(unloaded, 99);
  const p99Loaded = percentile(loaded, 99);
  const growthMiB = (rssPeak - rssBefore) / 1024;
  const figures = {
    unloaded: { pings: unloaded.length, p50: percentile(unloaded, 50), p99: p99Unloaded },
    loaded: { pings: loaded.length, p50: percentile(loaded, 50), p99: p99Loaded },
    ratio: p99Loaded / p99Unloaded,
    rss: { beforeMiB: rssBefore / 1024, peakMiB: rssPeak / 1024, growthMiB },
    attack: summary,
  };
  console.error(`abuse figures: ${JSON.stringify(figures)}`);

  // Every hostile connection was closed by the daemon itself, with the documented reason.
  expect(summary.total).toBe(ATTACKS);
  for (const [kind, k] of Object.entries(summary.byKind)) {
    expect({ kind, closed: k.closedByDaemon }).toEqual({ kind, closed: k.n });
  }
  expect(Object.keys(summary.byKind.idle!.lastFrames)).toEqual(["Authentication timeout"]);
  expect(Object.keys(summary.byKind["huge-unterminated"]!.lastFrames)).toEqual(["Frame too large"]);
  expect(Object.keys(summary.byKind["wrong-auth-types"]!.lastFrames).every((m) => ["Invalid token", "Authentication required", "Invalid JSON"].includes(m))).toBe(true);

  expect(loaded.length).toBeGreaterThan(CLIENTS * 10); // the clients kept being served throughout
  expect(p99Loaded).toBeLessThanOrEqual(5 * p99Unloaded);
  expect(growthMiB).toBeLessThan(64);

  // Still answering, with every client still connected and no hostile connection left open.
  for (const c of clients) c.stop();
  const status = await requestOnce(socketPath, token, { type: "status", id: 1 });
  expect(status).toMatchObject({ type: "status", id: 1, pid });
  expect((status.connections as { open: number }).open).toBeLessThanOrEqual(CLIENTS + 1);
  expect(daemon.exitCode).toBeNull();
  daemon.kill("SIGTERM");
  expect(await daemon.exited).toBe(0);
}, 60_000);

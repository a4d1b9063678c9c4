/**
 * The attacker for test/daemon/abuse.test.ts, run as its own process so its work does not slow the
 * test's measuring clients: opens `count` connections to a daemon socket, `concurrency` at a time,
 * each sending one kind of garbage, and waits until the daemon closes it. Prints one JSON summary.
 *
 * Usage: bun test/support/abuser.ts SOCKET COUNT CONCURRENCY SEED
 */
const [socketPath, countArg = "2000", concurrencyArg = "64", seedArg = "1"] = process.argv.slice(2);
if (!socketPath) throw new Error("usage: abuser.ts SOCKET COUNT CONCURRENCY SEED");
const count = Number(countArg);
const concurrency = Number(concurrencyArg);

// A small seeded PRNG (mulberry32) so a failing run can be replayed with the same seed.
let state = Number(seedArg) >>> 0;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(random() * n);
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

export const KINDS = ["random-bytes", "invalid-utf8", "huge-line", "huge-unterminated", "wrong-auth-types", "idle"] as const;
type Kind = (typeof KINDS)[number];

const WRONG_AUTH: unknown[] = [
  { type: "auth", token: 12345 },
  { type: "auth", token: null },
  { type: "auth", token: ["a", "b"] },
  { type: "auth", token: { $ne: "" } },
  { type: "auth", token: true },
  { type: "auth", session: 42 },
  { type: "auth", session: { id: "x" } },
  { type: ["auth"], token: "x" },
  { type: 1 },
  { type: null },
  [{ type: "auth" }],
  "auth",
  { type: "auth", token: "a".repeat(64).toUpperCase() },
  { type: "auth", token: "0".repeat(64), __proto__: { admin: true } },
];

function payload(kind: Kind): Buffer[] {
  switch (kind) {
    case "random-bytes":
      return [randomBytes(1 + int(4096))];
    case "invalid-utf8":
      return [Buffer.concat([Buffer.from('{"type":"auth","token":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0xed, 0xa0, 0x80]), randomBytes(int(64)), Buffer.from('"}\n')])];
    case "huge-line": // over the 64 KiB frame limit, then a newline
      return [Buffer.concat([Buffer.alloc(70_000 + int(50_000), 0x61), Buffer.from("\n")])];
    case "huge-unterminated": // 1 MiB with no newline, in 64 KiB writes
      return Array.from({ length: 16 }, () => Buffer.alloc(65_536, 0x7b));
    case "wrong-auth-types":
      return [Buffer.from(`${JSON.stringify(WRONG_AUTH[int(WRONG_AUTH.length)])}\n`)];
    case "idle":
      return [];
  }
}

interface Outcome {
  kind: Kind;
  /** The last frame the daemon sent before closing (undefined when it sent none). */
  last?: string;
  closedByDaemon: boolean;
}

function attack(kind: Kind): Promise<Outcome> {
  return new Promise((resolve) => {
    let last: string | undefined;
    let buf = "";
    let done = false;
    const finish = (closedByDaemon: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ kind, last, closedByDaemon });
    };
    // The daemon must close every one of these by itself (idle ones at its auth timeout).
    const timer = setTimeout(() => finish(false), 15_000);
    const chunks = payload(kind);
    Bun.connect({
      unix: socketPath!,
      socket: {
        open(s) {
          for (const c of chunks) if (s.write(c) < c.length) break; // the daemon may stop reading: fine
        },
        data(_s, d) {
          buf += d.toString("utf8");
          const lines = buf.split("\n");
          buf = lines.pop()!;
          if (lines.length) last = lines.at(-1);
        },
        close() {
          finish(true);
        },
        error() {
          finish(true);
        },
      },
    }).catch(() => finish(true));
  });
}

const outcomes: Outcome[] = [];
let next = 0;
async function worker() {
  while (next < count) {
    const i = next++;
    outcomes.push(await attack(KINDS[i % KINDS.length]!));
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));

const byKind: Record<string, { n: number; closedByDaemon: number; lastFrames: Record<string, number> }> = {};
for (const o of outcomes) {
  const k = (byKind[o.kind] ??= { n: 0, closedByDaemon: 0, lastFrames: {} });
  k.n++;
  if (o.closedByDaemon) k.closedByDaemon++;
  let msg = "(none)";
  try {
    const f = JSON.parse(o.last ?? "null");
    msg = f ? String(f.message ?? f.error ?? f.type) : "(none)";
  } catch {
    msg = "(not JSON)";
  }
  k.lastFrames[msg] = (k.lastFrames[msg] ?? 0) + 1;
}
process.stdout.write(`${JSON.stringify({ total: outcomes.length, byKind })}\n`);

/**
 * Daemon benchmark: handshake rate and daemon CPU per handshake (connect → auth → ping → close),
 * latency percentiles at 32 concurrent clients, and RSS holding 10,000 idle authenticated
 * connections — each against a minimal node:net server with the same handshake (the baseline,
 * written below), alternated in one run with the same load generator.
 *
 *   bun scripts/bench/daemon.ts [--seconds 2] [--rounds 3] [--concurrency 32] [--idle 10000] [--compare BIN]
 *
 * --compare BIN adds another tokenctl binary (e.g. main's build) to the same alternated rounds and
 * prints this build's rate and CPU per handshake as ratios of it (--idle 0 skips the idle test).
 *
 * The load generator shares the 2 cores and saturates first, so the rate is capped by it; the
 * daemon's own CPU time per handshake (utime+stime from /proc/PID/stat) is the figure that compares servers.
 */
import { dlopen, FFIType } from "bun:ffi";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "32" },
    idle: { type: "string", default: "10000" },
    compare: { type: "string" },
  },
});
const SECONDS = Number(opts.seconds);
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = Number(opts.concurrency);
const IDLE = Number(opts.idle);

const root = resolve(import.meta.dir, "..", "..");
const work = mkdtempSync(join(tmpdir(), "tokenctl-bench-"));
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64 and arm64

// ---------------------------------------------------------------- the baseline server (node:net)
const BASELINE = String.raw`
const net = require("node:net");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = process.argv[2];
const expected = crypto.createHash("sha256").update(process.env.BENCH_TOKEN).digest();
try { fs.unlinkSync(path); } catch {}
const send = (s, m) => s.write(JSON.stringify(m) + "\n");
const server = net.createServer((sock) => {
  let buf = "";
  let authed = false;
  const timer = setTimeout(() => sock.end('{"type":"error","message":"Authentication timeout"}\n'), 5000);
  sock.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) !== -1) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.length > 65536) return sock.end('{"type":"error","message":"Frame too large"}\n');
      let m;
      try { m = JSON.parse(line); } catch { if (!authed) return sock.end('{"type":"error","message":"Invalid JSON"}\n'); send(sock, { type: "error", message: "Invalid JSON" }); continue; }
      if (!authed) {
        if (!m || m.type !== "auth") return sock.end('{"type":"error","message":"Authentication required"}\n');
        const offered = crypto.createHash("sha256").update(typeof m.token === "string" ? m.token : JSON.stringify(m.token) ?? "").digest();
        if (!crypto.timingSafeEqual(offered, expected)) return sock.end('{"type":"auth_result","ok":false,"error":"Invalid token"}\n');
        authed = true;
        clearTimeout(timer);
        send(sock, { type: "auth_result", ok: true });
        continue;
      }
      if (m.type === "ping") send(sock, { type: "pong", id: m.id });
      else send(sock, { type: "error", id: m.id, message: "Unknown message type: " + m.type });
    }
    if (buf.length > 65536) sock.end('{"type":"error","message":"Frame too large"}\n');
  });
  sock.on("close", () => clearTimeout(timer));
  sock.on("error", () => {});
});
server.maxConnections = 100000;
server.listen(path, () => console.log("ready"));
`;

// ---------------------------------------------------------------- fd limit
function openFileLimit(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))!;
  const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/).map((v) => (v === "unlimited" ? Infinity : Number(v)));
  return { soft: soft!, hard: hard! };
}

/** Raise RLIMIT_NOFILE's soft limit (children inherit it): the idle test needs two fds per connection here. */
function raiseFileLimit(want: number): number {
  const { soft, hard } = openFileLimit();
  if (soft >= want) return soft;
  const target = Math.min(want, hard);
  const RLIMIT_NOFILE = 7;
  const lib = dlopen("libc.so.6", { setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
  const rl = new BigUint64Array([BigInt(target), BigInt(hard === Infinity ? 2 ** 62 : hard)]);
  if (lib.symbols.setrlimit(RLIMIT_NOFILE, rl) !== 0) console.error(`could not raise the open-file limit from ${soft}`);
  return openFileLimit().soft;
}

// ---------------------------------------------------------------- servers under test
interface Server {
  name: string;
  pid: number;
  socket: string;
  token: string;
  stop(): Promise<void>;
}

async function readyLine(proc: ReturnType<typeof Bun.spawn>): Promise<string> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before ready: ${await new Response(proc.stderr as ReadableStream).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.split("\n")[0]!;
}

async function startTokenctl(other?: string): Promise<Server> {
  const bin = other ?? join(root, "dist", "tokenctl");
  const cmd = existsSync(bin) ? [bin] : [process.execPath, join(root, "src", "bin.ts")];
  const runtime = mkdtempSync(join(work, "rt-"));
  const proc = Bun.spawn([...cmd, "daemon", "--json", "--max-connections", String(IDLE + 100)], {
    env: { PATH: process.env.PATH, HOME: work, XDG_RUNTIME_DIR: runtime, TOKENCTL_LOG_LEVEL: "1" },
    stdout: "pipe",
    stderr: "ignore",
  });
  const ready = JSON.parse(await readyLine(proc));
  const token = readFileSync(ready.tokenFile, "utf8").trim();
  const name = other ? `tokenctl daemon (${other})` : "tokenctl daemon";
  return { name, pid: proc.pid, socket: ready.socket, token, stop: async () => void (proc.kill("SIGTERM"), await proc.exited) };
}

async function startBaseline(): Promise<Server> {
  const script = join(work, "baseline.cjs");
  writeFileSync(script, BASELINE);
  const socket = join(work, "baseline.sock");
  const token = randomBytes(32).toString("hex");
  const node = Bun.which("node");
  const proc = Bun.spawn([node ?? process.execPath, script, socket], { env: { PATH: process.env.PATH, BENCH_TOKEN: token }, stdout: "pipe", stderr: "ignore" });
  await readyLine(proc);
  return { name: `node:net baseline (${node ? `node ${(await Bun.$`node --version`.text()).trim()}` : "bun"})`, pid: proc.pid, socket, token, stop: async () => void (proc.kill("SIGTERM"), await proc.exited) };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.replace(/\D+/g, "")) / 1024;
}

// ---------------------------------------------------------------- load generator (same for both)
/** One client: connect, auth, ping, and either close (handshake) or stay open (idle). */
function handshake(server: Server, stayOpen = false): Promise<{ ms: number; close: () => void }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let buf = "";
    let step = 0;
    Bun.connect({
      unix: server.socket,
      socket: {
        open(s) {
          s.write(`{"type":"auth","token":"${server.token}"}\n`);
        },
        data(s, d) {
          buf += d.toString();
          let i: number;
          while ((i = buf.indexOf("\n")) !== -1) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (step === 0) {
              if (!line.includes('"ok":true')) return reject(new Error(`auth refused: ${line}`));
              step = 1;
              s.write('{"type":"ping","id":1}\n');
            } else if (step === 1) {
              if (!line.includes('"pong"')) return reject(new Error(`unexpected: ${line}`));
              step = 2;
              const ms = performance.now() - t0;
              if (!stayOpen) s.end();
              resolve({ ms, close: () => s.end() });
            }
          }
        },
        close() {
          if (step < 2) reject(new Error("closed during handshake"));
        },
        error(_s, e) {
          reject(e);
        },
      },
    }).catch(reject);
  });
}

async function load(server: Server, seconds: number, concurrency: number) {
  const lat: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const cpu0 = cpuTicks(server.pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) lat.push((await handshake(server)).ms);
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpuSec = (cpuTicks(server.pid) - cpu0) / CLK_TCK;
  return { n: lat.length, rate: lat.length / elapsed, cpuUsPer: (cpuSec * 1e6) / lat.length, lat };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const pct = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function idle(server: Server, count: number) {
  const before = rssMiB(server.pid);
  const open: { close: () => void }[] = [];
  for (let i = 0; i < count; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, count - i) }, () => handshake(server, true)));
    open.push(...batch);
  }
  await Bun.sleep(1000);
  Bun.gc(true);
  const after = rssMiB(server.pid);
  for (const c of open) c.close();
  await Bun.sleep(300);
  return { before, after, held: open.length };
}

// ---------------------------------------------------------------- run
const limit = raiseFileLimit(2 * IDLE + 1000);
console.log(`# tokenctl daemon benchmark — ${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}, open-file limit ${limit}`);
console.log(`# ${ROUNDS} alternated rounds of ${SECONDS}s, ${CONCURRENCY} concurrent clients doing connect → auth → ping → close\n`);

const ours = await startTokenctl();
const base = await startBaseline();
const other = opts.compare ? await startTokenctl(resolve(opts.compare)) : undefined;
const servers = other ? [ours, other, base] : [ours, base];
const fresh = new Map(servers.map((s) => [s, rssMiB(s.pid)]));
console.log(`# load average before: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
try {
  // Warm up each (JIT, allocator) before measuring.
  for (const s of servers) await load(s, 0.5, CONCURRENCY);
  const results = new Map<Server, { rate: number[]; cpu: number[]; lat: number[]; p99: number[] }>(servers.map((s) => [s, { rate: [], cpu: [], lat: [], p99: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
      const res = await load(s, SECONDS, CONCURRENCY);
      const acc = results.get(s)!;
      acc.rate.push(res.rate);
      acc.cpu.push(res.cpuUsPer);
      for (const v of res.lat) acc.lat.push(v);
      acc.p99.push(pct(res.lat, 99));
      console.log(`round ${r + 1} ${s.name.padEnd(34)} ${res.n} handshakes, ${res.rate.toFixed(0)}/s, ${res.cpuUsPer.toFixed(1)} µs server CPU each, p99 ${pct(res.lat, 99).toFixed(2)} ms`);
    }
  }
  console.log("\n| server | handshakes/s (median) | server CPU µs/handshake (median) | p50 ms | p99 ms (all rounds) | p99 ms (median round) |");
  console.log("|---|---|---|---|---|---|");
  for (const [s, acc] of results)
    console.log(`| ${s.name} | ${median(acc.rate).toFixed(0)} | ${median(acc.cpu).toFixed(1)} | ${pct(acc.lat, 50).toFixed(2)} | ${pct(acc.lat, 99).toFixed(2)} | ${median(acc.p99).toFixed(2)} |`);
  const o = results.get(ours)!;
  const b = results.get(base)!;
  const cpuRatio = median(o.cpu) / median(b.cpu);
  const p99 = pct(o.lat, 99);
  console.log(`\nCPU per handshake, daemon / baseline: ${cpuRatio.toFixed(2)}× (target ≤ 0.5×) ${cpuRatio <= 0.5 ? "MET" : "NOT MET"}`);
  console.log(`Rate, daemon / baseline: ${(median(o.rate) / median(b.rate)).toFixed(2)}×`);
  if (other) {
    const c = results.get(other)!;
    console.log(`This build / ${other.name}: rate ${(median(o.rate) / median(c.rate)).toFixed(2)}×, CPU per handshake ${(median(o.cpu) / median(c.cpu)).toFixed(2)}×`);
  }
  console.log(`# load average after: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
  console.log(`p99 at ${CONCURRENCY} concurrent clients (all rounds pooled; includes the load generator's own pauses): ${p99.toFixed(2)} ms (target ≤ 3 ms) ${p99 <= 3 ? "MET" : "NOT MET"}`);

  if (IDLE > 0) console.log(`\nIdle: ${IDLE} authenticated connections held open`);
  for (const s of IDLE > 0 ? [ours, base] : []) {
    const r = await idle(s, IDLE);
    console.log(`${s.name.padEnd(34)} RSS fresh ${fresh.get(s)!.toFixed(1)} MiB, after the load rounds ${r.before.toFixed(1)} MiB, holding ${r.held} connections ${r.after.toFixed(1)} MiB`);
    if (s === ours) console.log(`  target ≤ 150 MiB: ${r.after <= 150 ? "MET" : "NOT MET"}`);
  }
} finally {
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}

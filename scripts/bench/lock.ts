/**
 * The lock in each runtime: tryLock()+release() on one lock file against open+close of the same file
 * (the floor: every lock opens and closes it), in the same process, alternated round by round.
 * Bun takes flock(2) through bun:ffi, Deno through Deno.FsFile, Node through a flock(1) process per
 * lock (it has no flock API). The worker is bundled for Node (as the npm package is) and run by
 * each runtime in turn; Deno comes from the `deno` devDependency or PATH.
 *
 *   bun scripts/bench/lock.ts [rounds=9]
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { median, table } from "./_stats.ts";

const rounds = Number(process.argv[2] ?? 9);
const root = join(import.meta.dir, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "tokenctl-bench-lock-"));
try {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "_lock-worker.ts")], target: "node", outdir: dir });
  if (!built.success) throw new Error(built.logs.join("\n"));
  const worker = built.outputs[0]!.path;
  const deno = existsSync(join(root, "node_modules/.bin/deno")) ? join(root, "node_modules/.bin/deno") : Bun.which("deno");
  const node = Bun.which("node");
  // Node forks flock(1) per lock: fewer iterations keep the run short and the fork count modest.
  const runs: Array<[string, string[], number]> = [
    ["bun", [process.execPath, worker], 20_000],
    ...(deno ? ([["deno", [deno, "run", "-A", "--quiet", worker], 20_000]] as Array<[string, string[], number]>) : []),
    ...(node ? ([["node", [node, worker], 100]] as Array<[string, string[], number]>) : []),
  ];
  if (!deno) console.error("deno not found: `npm install` provides it (devDependency), or put deno on PATH");
  const load = loadavg().map((l) => l.toFixed(2)).join(" ");
  const rows = [];
  for (const [name, argv, iterations] of runs) {
    const r = Bun.spawnSync([...argv, join(dir, "bench.lock"), String(rounds), String(iterations)], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${name} failed: ${r.stderr.toString()}`);
    const res = JSON.parse(r.stdout.toString()) as { via: string; lock: number[]; baseline: number[]; spawn?: number[] };
    const lock = median(res.lock);
    const base = median(res.baseline);
    const spawn = res.spawn ? median(res.spawn) : undefined;
    rows.push({
      runtime: name,
      via: res.via,
      "tryLock+release µs": lock,
      "open+close µs": base,
      ratio: `${(lock / base).toFixed(1)}×`,
      "start of `true` µs": spawn ?? "",
      "ratio to it": spawn ? `${(lock / spawn).toFixed(2)}×` : "",
      "ops/round": iterations,
    });
  }
  console.log(table(rows));
  console.log(`\nmedians of ${rounds} rounds; load average at start: ${load} (end: ${loadavg().map((l) => l.toFixed(2)).join(" ")})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

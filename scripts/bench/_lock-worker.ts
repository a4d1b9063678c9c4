/**
 * Worker for scripts/bench/lock.ts, run under Bun, Node or Deno as a bundle: alternates rounds of
 * tryLock()+release() on one lock file with rounds of open+close of the same file (the baseline),
 * and prints one JSON line of per-operation times in µs, one per round.
 *
 *   <runtime> _lock-worker.js PATH ROUNDS ITERATIONS
 */
import { spawnSync } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { tryLock } from "../../src/fs/lock.ts";
import { flockFor } from "../../src/runtime/flock.ts";
import { platform } from "../../src/runtime/platform.ts";

const [path, roundsArg, iterationsArg] = process.argv.slice(2) as [string, string, string];
const rounds = Number(roundsArg);
const iterations = Number(iterationsArg);

const ops: Record<string, () => void> = {
  lock() {
    const l = tryLock(path);
    if (!l) throw new Error("the lock was held by someone else");
    l.release();
  },
  baseline() {
    closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600));
  },
};
// Under Node each lock starts flock(1): compare with starting `true`, the cost of any process start.
if (flockFor().via === "flock(1)") ops.spawn = () => void spawnSync("true", [], { stdio: "ignore" });

const out: Record<string, number[]> = Object.fromEntries(Object.keys(ops).map((k) => [k, []]));
for (const name of Object.keys(ops)) for (let i = 0; i < Math.min(iterations, 50); i++) ops[name]!(); // warm up
for (let r = 0; r < rounds; r++)
  for (const name of Object.keys(ops)) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) ops[name]!();
    out[name]!.push(((performance.now() - t0) * 1000) / iterations);
  }
console.log(JSON.stringify({ runtime: platform().runtime, via: flockFor().via, ...out }));

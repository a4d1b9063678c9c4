import { expect, test } from "bun:test";
import { join } from "node:path";
import { lock, tryLock } from "../../src/fs/lock.ts";
import { tempDir } from "../support/tmp.ts";

test("a second open file description cannot take a held lock; release frees it", () => {
  const p = join(tempDir(), "l.lock");
  const a = tryLock(p);
  expect(a).toBeDefined();
  expect(tryLock(p)).toBeUndefined();
  a!.release();
  a!.release(); // idempotent
  const c = tryLock(p);
  expect(c).toBeDefined();
  c!.release();
});

test("flock(1) in a shell script excludes us, and we exclude it", async () => {
  const p = join(tempDir(), "l.lock");
  const holder = Bun.spawn(["flock", "-o", p, "sh", "-c", "echo held; exec sleep 5"], { stdout: "pipe" });
  const reader = holder.stdout.getReader();
  await reader.read(); // "held": flock(1) has the lock
  expect(tryLock(p)).toBeUndefined();
  // -o: only flock(1) itself holds the lock fd, so killing it is killing the holder.
  holder.kill("SIGKILL");
  await holder.exited;
  const mine = tryLock(p);
  expect(mine).toBeDefined(); // the kernel dropped the dead holder's lock: no stale lock
  const probe = Bun.spawnSync(["flock", "-n", p, "true"]);
  expect(probe.exitCode).toBe(1);
  mine!.release();
  expect(Bun.spawnSync(["flock", "-n", p, "true"]).exitCode).toBe(0);
});

test("lock() waits for the holder, and times out with a clear message", async () => {
  const p = join(tempDir(), "l.lock");
  const held = tryLock(p)!;
  setTimeout(() => held.release(), 50);
  const got = await lock(p, 2000);
  expect(got.path).toBe(p);
  await expect(lock(p, 30)).rejects.toThrow(/Timed out after 30 ms/);
  got.release();
});

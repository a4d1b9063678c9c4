/** The flock backends' platform branches and the refusals (exit 5), over injected platforms. */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { UnavailableError } from "../../src/errors.ts";
import { tryLock } from "../../src/fs/lock.ts";
import { bunFlock, denoFlock, flockFor, nodeFlock } from "../../src/runtime/flock.ts";
import { tempDir } from "../support/tmp.ts";

test("Node on macOS refuses with exit 5 and points to the binary or the daemon", () => {
  let err: unknown;
  try {
    flockFor({ runtime: "node", os: "darwin" });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UnavailableError);
  expect((err as UnavailableError).exitCode).toBe(5);
  expect((err as UnavailableError).message).toMatch(/macOS ships no flock\(1\)/);
  expect((err as UnavailableError).hint).toMatch(/tokenctl binary|tokenctl daemon/);
});

test("Node without flock(1) refuses with exit 5 and names util-linux", () => {
  const f = nodeFlock("linux", { command: "/nonexistent/flock" });
  const p = join(tempDir(), "x.lock");
  expect(() => f.tryLock(p)).toThrow(UnavailableError);
  expect(() => f.tryLock(p)).toThrow(/util-linux/);
});

test("Node's lock() without flock(1) rejects with exit 5 too", async () => {
  const f = nodeFlock("linux", { command: "/nonexistent/flock" });
  await expect(f.lock(join(tempDir(), "x.lock"), 100)).rejects.toBeInstanceOf(UnavailableError);
});

test("Bun without bun:ffi refuses with exit 5", () => {
  expect(() => bunFlock("linux", null)).toThrow(UnavailableError);
});

test("the macOS branch asks libSystem for flock and __error", () => {
  const opened: { name: string; symbols: string[] }[] = [];
  const fakeFfi = {
    dlopen(name: string, symbols: Record<string, unknown>) {
      opened.push({ name, symbols: Object.keys(symbols) });
      return { symbols: { flock: () => 0, __error: () => null }, close() {} };
    },
    read: { i32: () => 0 },
  };
  const f = bunFlock("darwin", fakeFfi as never);
  expect(f.via).toBe("bun:ffi");
  expect(opened).toEqual([{ name: "/usr/lib/libSystem.B.dylib", symbols: ["flock", "__error"] }]);
});

test("the fd of a held lock passes the lock on: a child given it keeps holding after we release", () => {
  const p = join(tempDir(), "x.lock");
  const held = tryLock(p)!;
  expect(held.fd).toBeGreaterThan(2);
  // The child sleeps holding fd 3 (our open file description); we close ours.
  const child = Bun.spawn(["sleep", "2"], { stdio: ["ignore", "ignore", "ignore", held.fd] });
  held.release();
  expect(tryLock(p)).toBeUndefined();
  child.kill("SIGKILL");
  spawnSync("sh", ["-c", "sleep 0.1"]);
  return child.exited.then(() => {
    const again = tryLock(p);
    expect(again).toBeDefined();
    again!.release();
  });
});

test("a symlink in place of the lock file is refused, not followed (Bun's O_NOFOLLOW, Deno's lstat)", () => {
  const dir = tempDir();
  const target = join(dir, "elsewhere");
  const p = join(dir, "x.lock");
  symlinkSync(target, p);
  expect(() => tryLock(p)).toThrow(/ELOOP/);
  const fakeDeno = {
    lstatSync: () => ({ isSymlink: true, dev: 1, ino: 2 }),
    openSync: () => {
      throw new Error("must not open");
    },
  };
  expect(() => denoFlock("linux", fakeDeno as never).tryLock(p)).toThrow(/symlink/);
});

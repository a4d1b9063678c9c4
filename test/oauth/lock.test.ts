/** lockStore: the one place a store's lock directory is made and a timed-out wait is reported. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TokenctlError, UnavailableError } from "../../src/errors.ts";
import { tryLock } from "../../src/fs/lock.ts";
import { lockStore, removeLocked, saveLocked } from "../../src/oauth/lock.ts";
import { fileStore } from "../../src/oauth/store.ts";
import { tempDir } from "../support/tmp.ts";

describe("lockStore", () => {
  test("makes the lock's directory private (0700) and takes the lock", async () => {
    const dir = join(tempDir(), "state", "tokenctl");
    const held = await lockStore({ lockPath: join(dir, "p.lock") }, 1000);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(tryLock(join(dir, "p.lock"))).toBeUndefined();
    held.release();
    tryLock(join(dir, "p.lock"))!.release();
  });

  test("a wait that runs out is UnavailableError naming the lock and fuser", async () => {
    const path = join(tempDir(), "p.lock");
    const other = tryLock(path)!;
    try {
      const e = await lockStore({ lockPath: path }, 60).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UnavailableError);
      expect((e as UnavailableError).message).toContain(`refresh lock ${path} for over 60 ms`);
      expect((e as UnavailableError).hint).toBe(`See who holds it: fuser -v ${path}`);
    } finally {
      other.release();
    }
  });

  test("a lock file that cannot be opened is reported as itself, not as a busy lock", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "p.lock")); // a directory where the lock file should be
    const e = await lockStore({ lockPath: join(dir, "p.lock") }, 5000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TokenctlError);
    expect(e).not.toBeInstanceOf(UnavailableError);
    expect((e as Error).message).toContain("Could not open lock file");
  });

  test("saveLocked and removeLocked write and delete under the lock", async () => {
    const path = join(tempDir(), "sub", "creds.json");
    const store = fileStore(path, "p", "p");
    mkdirSync(join(path, ".."), { mode: 0o700 });
    writeFileSync(path, "{}", { mode: 0o600 });
    await saveLocked(store, { accessToken: "a", expiresAt: 1, scopes: [] }, 1000);
    expect(await store.read()).toEqual({ accessToken: "a", expiresAt: 1, scopes: [] });
    expect(await removeLocked(store, 1000)).toBe(true);
    expect(await removeLocked(store, 1000)).toBe(false);
  });
});

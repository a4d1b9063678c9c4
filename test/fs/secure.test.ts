import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InsecureFileError, NotFoundError, UsageError } from "../../src/errors.ts";
import { createSecretFileExclusive, ensurePrivateDir, readSecretFile, writeSecretFile } from "../../src/fs/secure.ts";
import { tempDir } from "../support/tmp.ts";

const mode = (p: string) => statSync(p).mode & 0o777;

function secretAt(dir: string, content: string, perms = 0o600): string {
  const p = join(dir, "secret");
  writeFileSync(p, content, { mode: perms });
  chmodSync(p, perms);
  return p;
}

describe("readSecretFile", () => {
  test("reads and trims a 0600 file", () => {
    expect(readSecretFile(secretAt(tempDir(), "  abc\n"))).toBe("abc");
  });

  test("raw keeps whitespace", () => {
    expect(readSecretFile(secretAt(tempDir(), "abc\n"), { raw: true })).toBe("abc\n");
  });

  test.each([0o644, 0o640, 0o604, 0o660, 0o606, 0o700])("refuses mode %o with a chmod hint", (perms) => {
    const p = secretAt(tempDir(), "abc", perms);
    const err = (() => {
      try {
        readSecretFile(p);
      } catch (e) {
        return e;
      }
    })();
    if (perms & 0o077) {
      expect(err).toBeInstanceOf(InsecureFileError);
      expect((err as InsecureFileError).message).toContain("too open");
      expect((err as InsecureFileError).hint).toBe(`chmod 600 ${p}`);
    } else {
      expect(err).toBeUndefined(); // 0700 on a file: owner-only is fine
    }
  });

  test("refuses a symlink, even to a good file", () => {
    const dir = tempDir();
    const target = secretAt(dir, "abc");
    const link = join(dir, "link");
    symlinkSync(target, link);
    expect(() => readSecretFile(link)).toThrow(InsecureFileError);
    expect(() => readSecretFile(link)).toThrow(/symbolic link/);
  });

  test("refuses a directory", () => {
    const dir = join(tempDir(), "d");
    mkdirSync(dir, { mode: 0o700 });
    expect(() => readSecretFile(dir)).toThrow(/not a regular file/);
  });

  test("refuses a file over 64 KiB without reading it all", () => {
    const p = secretAt(tempDir(), "x".repeat(1024 * 1024));
    expect(() => readSecretFile(p)).toThrow(UsageError);
    expect(() => readSecretFile(p)).toThrow(/at most 65536 bytes/);
  });

  test("a missing file is NotFound", () => {
    expect(() => readSecretFile(join(tempDir(), "nope"))).toThrow(NotFoundError);
  });

  test.skipIf(process.getuid?.() !== 0)("refuses a file owned by another user (needs root to chown)", () => {
    const p = secretAt(tempDir(), "abc");
    require("node:fs").chownSync(p, 12345, 12345);
    expect(() => readSecretFile(p)).toThrow(/owned by uid 12345/);
  });
});

describe("writeSecretFile", () => {
  test("creates the parent 0700 and the file 0600", () => {
    const dir = join(tempDir(), "a", "b");
    const p = join(dir, "tok");
    writeSecretFile(p, "v1");
    expect(readFileSync(p, "utf8")).toBe("v1");
    expect(mode(p)).toBe(0o600);
    expect(mode(dir)).toBe(0o700);
  });

  test("replaces atomically and leaves no temp files", () => {
    const dir = tempDir();
    const p = join(dir, "tok");
    writeSecretFile(p, "v1");
    writeSecretFile(p, "v2");
    expect(readFileSync(p, "utf8")).toBe("v2");
    expect(readdirSync(dir)).toEqual(["tok"]);
  });

  test("resets a too-open target to 0600", () => {
    const dir = tempDir();
    const p = secretAt(dir, "old", 0o644);
    writeSecretFile(p, "new");
    expect(mode(p)).toBe(0o600);
  });

  test("refuses a parent writable by others and writes nothing", () => {
    const dir = join(tempDir(), "open");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    expect(() => writeSecretFile(join(dir, "tok"), "v")).toThrow(/too open/);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("on failure the old file is untouched and no temp file remains", () => {
    const dir = tempDir();
    const p = join(dir, "tok");
    writeSecretFile(p, "old");
    // A directory where the target should be makes rename fail after the temp file is written.
    const target = join(dir, "sub");
    mkdirSync(target);
    writeFileSync(join(target, "x"), "");
    expect(() => writeSecretFile(target, "new")).toThrow(/Could not write/);
    expect(readFileSync(p, "utf8")).toBe("old");
    expect(readdirSync(dir).sort()).toEqual(["sub", "tok"]);
  });
});

describe("ensurePrivateDir", () => {
  test("strict refuses any group/other bit with the chmod that fixes it", () => {
    const dir = join(tempDir(), "d");
    mkdirSync(dir);
    chmodSync(dir, 0o750);
    expect(() => ensurePrivateDir(dir, { strict: true })).toThrow(/chmod 700|too open/);
    chmodSync(dir, 0o700);
    expect(() => ensurePrivateDir(dir, { strict: true })).not.toThrow();
  });
});

describe("createSecretFileExclusive", () => {
  test("creates 0600 and refuses an existing file", () => {
    const p = join(tempDir(), "s");
    createSecretFileExclusive(p, "x");
    expect(mode(p)).toBe(0o600);
    expect(() => createSecretFileExclusive(p, "y")).toThrow();
    expect(readFileSync(p, "utf8")).toBe("x");
    expect(existsSync(p)).toBe(true);
  });
});

describe("stale temp files", () => {
  test("a killed writer's old temp file is removed by the next write; a fresh one is left alone", () => {
    const dir = tempDir();
    const p = join(dir, "tok");
    const stale = join(dir, ".tok.0123456789ab.tmp");
    const fresh = join(dir, ".tok.ba9876543210.tmp");
    const other = join(dir, ".other.0123456789ab.tmp");
    for (const f of [stale, fresh, other]) writeFileSync(f, "half", { mode: 0o600 });
    const old = new Date(Date.now() - 5 * 60_000);
    require("node:fs").utimesSync(stale, old, old);
    require("node:fs").utimesSync(other, old, old);
    writeSecretFile(p, "v");
    expect(readdirSync(dir).sort()).toEqual([".other.0123456789ab.tmp", ".tok.ba9876543210.tmp", "tok"]);
  });
});

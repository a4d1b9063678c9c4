/** Path trust (OpenSSH safe_path style), the XDG_RUNTIME_DIR rule, and kernel files refused as secrets. */
import { describe, expect, it } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSecretFile, writeSecretFile } from "../../src/fs/secure.ts";
import { checkTrustedDirs, checkTrustedPath, runtimeDirProblem, UntrustedPathError, type TrustFs } from "../../src/fs/trust.ts";
import { runtimeDir } from "../../src/fs/paths.ts";
import { tempDir } from "../support/tmp.ts";

/** A fake tree: path → [uid, mode]; every path is a directory unless its mode has S_IFREG-ish 0o100000. */
function fakeFs(tree: Record<string, [number, number]>): TrustFs {
  return {
    realpath: (p) => {
      if (!(p in tree)) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return p;
    },
    lstat: (p) => {
      const e = tree[p];
      if (!e) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return { uid: e[0], mode: e[1], isDirectory: () => !(e[1] & 0o100000), isSymbolicLink: () => false };
    },
  };
}

describe("checkTrustedDirs", () => {
  const base = { "/": [0, 0o755], "/home": [0, 0o755], "/tmp": [0, 0o41777] } as Record<string, [number, number]>;
  it.each([
    ["own dirs under root's", { "/home/me": [1000, 0o700], "/home/me/x": [1000, 0o755] }, "/home/me/x", undefined],
    ["a root-owned sticky /tmp above", { "/tmp/me": [1000, 0o700] }, "/tmp/me", undefined],
    ["another user's dir", { "/home/eve": [1001, 0o755], "/home/eve/x": [1000, 0o700] }, "/home/eve/x", "directory /home/eve is owned by uid 1001"],
    ["a group-writable dir", { "/home/me": [1000, 0o770] }, "/home/me", "is writable by its group"],
    ["an other-writable dir", { "/home/me": [1000, 0o757] }, "/home/me", "is writable by others"],
    ["a sticky dir not owned by root", { "/home/me": [1001, 0o41777] }, "/home/me", "owned by uid 1001"],
    ["a sticky world-writable dir of our own", { "/home/me": [1000, 0o41777] }, "/home/me", "is writable by others"],
  ] as const)("%s", (_n, extra, dir, problem) => {
    const fs = fakeFs({ ...base, ...(extra as unknown as Record<string, [number, number]>) });
    const run = () => checkTrustedDirs(dir, "the test file", fs, 1000);
    if (problem === undefined) expect(run).not.toThrow();
    else expect(run).toThrow(problem);
  });

  it("refuses a socket owned by another user in a trusted dir, naming it and its owner", () => {
    const fs = fakeFs({ "/": [0, 0o755], "/run": [0, 0o755], "/run/s.sock": [1001, 0o140777] });
    const err = (() => {
      try {
        checkTrustedPath("/run/s.sock", "the daemon socket /run/s.sock", fs, 1000);
      } catch (e) {
        return e;
      }
    })() as UntrustedPathError;
    expect(err).toBeInstanceOf(UntrustedPathError);
    expect(err.message).toContain("/run/s.sock is owned by uid 1001");
    expect(err.exitCode).toBe(2);
  });
});

describe("real files", () => {
  it("a secret file under a world-writable (non-sticky) dir is refused, even when the file itself is private", () => {
    const open = join(tempDir(), "open");
    mkdirSync(join(open, "mine"), { recursive: true, mode: 0o700 });
    chmodSync(open, 0o777);
    writeFileSync(join(open, "mine", "token"), "t0k", { mode: 0o600 });
    expect(() => readSecretFile(join(open, "mine", "token"))).toThrow(`directory ${open} (mode 0777) is writable by others`);
  });

  it("a write under a parent another user could rename is refused up front: nothing is created", () => {
    const open = join(tempDir(), "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => writeSecretFile(join(open, "mine", "token"), "t0k")).toThrow(UntrustedPathError);
    expect(existsSync(join(open, "mine"))).toBe(false);
    mkdirSync(join(open, "own"), { mode: 0o700 });
    expect(() => writeSecretFile(join(open, "own", "token"), "t0k")).toThrow("writable by others");
    expect(readdirSync(join(open, "own"))).toEqual([]);
  });

  it.each(["/proc/self/environ", "/proc/self/status", "/sys/kernel/mm/transparent_hugepage/enabled", "/dev/null"])("%s is never a secret file (exit 2)", (p) => {
    const err = (() => {
      try {
        readSecretFile(p);
      } catch (e) {
        return e as { exitCode: number; message: string };
      }
    })();
    expect(err?.exitCode).toBe(2);
    expect(err?.message).toMatch(/under \/(proc|sys|dev)|on (procfs|sysfs)/);
  });

  it.each(["/dev/stdout", "/proc/self/fd/1", "/sys/kernel/token"])("writing %s is refused before anything is created", (p) => {
    expect(() => writeSecretFile(p, "t0k")).toThrow(/under \/(dev|proc|sys)/);
  });

  it("a symlink from an ordinary dir into /proc is refused by where it leads", () => {
    const link = join(tempDir(), "environ");
    symlinkSync("/proc/self/environ", link);
    expect(() => readSecretFile(link)).toThrow("under /proc");
  });
});

describe("XDG_RUNTIME_DIR", () => {
  it("is used only when it is ours with mode 0700", () => {
    const rt = tempDir();
    chmodSync(rt, 0o700);
    expect(runtimeDirProblem(rt)).toBeUndefined();
    expect(runtimeDir({ XDG_RUNTIME_DIR: rt })).toBe(join(rt, "tokenctl"));
    chmodSync(rt, 0o777);
    expect(runtimeDirProblem(rt)).toBe(`XDG_RUNTIME_DIR=${rt} has mode 0777, not the 0700 the XDG spec requires`);
    expect(runtimeDir({ XDG_RUNTIME_DIR: rt })).toBeUndefined();
    chmodSync(rt, 0o755);
    expect(runtimeDir({ XDG_RUNTIME_DIR: rt })).toBeUndefined();
    expect(runtimeDirProblem(join(rt, "none"))).toContain("does not exist");
  });
});

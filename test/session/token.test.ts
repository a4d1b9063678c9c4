import { describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/tmp.ts";
import {
  TOKEN_ENV,
  TOKEN_FILE_ENV,
  hashToken,
  isSessionToken,
  mintSessionFile,
  mintToken,
  readSessionToken,
  removeSessionDir,
  sessionParentDir,
  tokenProblem,
} from "../../src/session/token.ts";

const mode = (p: string) => statSync(p).mode & 0o777;
const GOOD = "0123456789abcdef".repeat(4);

describe("mintToken", () => {
  it("is 64 lower-case hex from 32 random bytes", () => {
    let asked = 0;
    const t = mintToken((n) => {
      asked = n;
      return Buffer.alloc(n, 0xab);
    });
    expect(asked).toBe(32);
    expect(t).toBe("ab".repeat(32));
    expect(isSessionToken(mintToken())).toBe(true);
    expect(mintToken()).not.toBe(mintToken());
  });

  it("hashes to SHA-256 hex, never the token itself", () => {
    const t = mintToken();
    const h = hashToken(t);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).not.toBe(t);
    expect(hashToken(t)).toBe(h);
    expect(h).toBe(createHash("sha256").update(t, "utf8").digest("hex"));
  });
});

describe("tokenProblem", () => {
  it.each([
    ["", "empty"],
    ["   \n", "empty"],
    ["abc", "3 characters"],
    [GOOD + "0", "65 characters"],
    ["g" + GOOD.slice(1), "not all are hex"],
    [GOOD.toUpperCase(), "upper-case"],
  ])("rejects %j (%s)", (text, why) => {
    const p = tokenProblem(text);
    expect(p).toContain(why);
    if (text.trim()) expect(p).not.toContain(text.trim());
  });

  it("accepts 64 hex with surrounding whitespace", () => {
    expect(tokenProblem(`  ${GOOD}\n`)).toBeUndefined();
  });
});

describe("mintSessionFile", () => {
  it("writes the token 0600 in a fresh 0700 dir under --dir", () => {
    const parent = join(tempDir(), "not-yet");
    const s = mintSessionFile({ dir: parent });
    expect(s.dir.startsWith(`${parent}/session-`)).toBe(true);
    expect(mode(parent)).toBe(0o700);
    expect(mode(s.dir)).toBe(0o700);
    expect(mode(s.file)).toBe(0o600);
    expect(lstatSync(s.file).isFile()).toBe(true);
    expect(readFileSync(s.file, "utf8").trim()).toBe(s.token);
    expect(isSessionToken(s.token)).toBe(true);
    removeSessionDir(s.dir);
    expect(() => statSync(s.dir)).toThrow();
  });

  it("uses $XDG_RUNTIME_DIR/tokenctl, else the OS temp dir", () => {
    const rt = tempDir();
    expect(sessionParentDir({ env: { XDG_RUNTIME_DIR: rt } })).toBe(join(rt, "tokenctl"));
    const s = mintSessionFile({ env: { XDG_RUNTIME_DIR: rt } });
    expect(s.dir.startsWith(join(rt, "tokenctl", "session-"))).toBe(true);
    expect(mode(join(rt, "tokenctl"))).toBe(0o700);
    removeSessionDir(s.dir);
    const t = mintSessionFile({ env: {} });
    expect(t.dir.startsWith(sessionParentDir({ env: {} }))).toBe(true);
    removeSessionDir(t.dir);
  });

  it("refuses a runtime dir that others can write", () => {
    const rt = tempDir();
    mkdirSync(join(rt, "tokenctl"), { mode: 0o700 });
    chmodSync(join(rt, "tokenctl"), 0o777);
    expect(() => mintSessionFile({ env: { XDG_RUNTIME_DIR: rt } })).toThrow(/too open/);
  });

  it("mints different tokens in different dirs", () => {
    const parent = tempDir();
    const a = mintSessionFile({ dir: parent });
    const b = mintSessionFile({ dir: parent });
    expect(a.dir).not.toBe(b.dir);
    expect(a.token).not.toBe(b.token);
  });
});

describe("readSessionToken", () => {
  function file(content: string, fileMode = 0o600): string {
    const dir = tempDir();
    const p = join(dir, "session-token");
    writeFileSync(p, content, { mode: fileMode });
    chmodSync(p, fileMode);
    return p;
  }

  it("reads and trims a good file", () => {
    const r = readSessionToken({ [TOKEN_FILE_ENV]: file(`${GOOD}\n`) });
    expect(r).toEqual({ ok: true, token: GOOD, source: expect.stringContaining(TOKEN_FILE_ENV) });
  });

  it("prefers the file to the value", () => {
    const other = "f".repeat(64);
    const r = readSessionToken({ [TOKEN_FILE_ENV]: file(GOOD), [TOKEN_ENV]: other });
    expect(r.ok && r.token).toBe(GOOD);
  });

  it("takes the value when no file is named", () => {
    const r = readSessionToken({ [TOKEN_ENV]: ` ${GOOD} ` });
    expect(r.ok && r.token).toBe(GOOD);
  });

  it.each([
    ["empty file", () => file(""), /empty/],
    ["short", () => file("abcd"), /4 characters/],
    ["long", () => file(GOOD + GOOD), /128 characters/],
    ["not hex", () => file("z".repeat(64)), /not all are hex/],
    ["two lines", () => file(`${GOOD.slice(0, 32)}\n${GOOD.slice(32)}`), /65 characters/],
    ["too open", () => file(GOOD, 0o644), /too open/],
    ["missing", () => join(tempDir(), "nope"), /does not exist/],
    ["a directory", () => tempDir(), /not a regular file/],
    ["huge", () => file("a".repeat(100_000)), /at most 4096 bytes/],
    [
      "a symlink",
      () => {
        const target = file(GOOD);
        const link = join(tempDir(), "link");
        symlinkSync(target, link);
        return link;
      },
      /symbolic link/,
    ],
  ])("%s is no session, with a reason and no crash", (_what, make, why) => {
    const path = make();
    const r = readSessionToken({ [TOKEN_FILE_ENV]: path });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toMatch(why);
      expect(r.reason).not.toContain(GOOD);
    }
  });

  it("a malformed value is no session", () => {
    const r = readSessionToken({ [TOKEN_ENV]: "xyz" });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(TOKEN_ENV);
  });

  it("nothing set is no session", () => {
    const r = readSessionToken({});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain("neither");
  });
});

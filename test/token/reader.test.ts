import { describe, expect, test } from "bun:test";
import { InsecureFileError, NotFoundError, UsageError } from "../../src/errors.ts";
import { parseFdVar, readToken, TokenNotFoundError, type ReaderDeps } from "../../src/token/reader.ts";
import type { TokenSources } from "../../src/token/sources.ts";

const sources: TokenSources = { envName: "T", fdEnvName: "T_FD", file: "/f/token", orgEnvName: "ORG" };

/** In-memory deps: fds and files as maps, writes recorded. */
function fake(env: Record<string, string>, fds: Record<number, string> = {}, files: Record<string, string | Error> = {}) {
  const writes: Array<[string, string]> = [];
  const deps: ReaderDeps = {
    env,
    readFd: (fd) => fds[fd],
    readFile(path) {
      const v = files[path];
      if (v === undefined) throw new NotFoundError(`${path} does not exist`);
      if (v instanceof Error) throw v;
      return v.trim();
    },
    writeFile(path, data) {
      writes.push([path, data]);
      files[path] = data;
    },
  };
  return { deps, writes };
}

describe("precedence", () => {
  test("env beats fd and file", () => {
    const { deps, writes } = fake({ T: "from-env", T_FD: "3" }, { 3: "from-fd" }, { "/f/token": "from-file" });
    expect(readToken(sources, deps)).toMatchObject({ token: "from-env", source: "env" });
    expect(writes).toEqual([]);
  });

  test("fd beats file, and is persisted to the file", () => {
    const { deps, writes } = fake({ T_FD: "3" }, { 3: "from-fd\n" }, { "/f/token": "old" });
    const r = readToken(sources, deps);
    expect(r).toMatchObject({ token: "from-fd", source: "fd", persistedTo: "/f/token" });
    expect(writes).toEqual([["/f/token", "from-fd"]]);
  });

  test("fd equal to the file is not rewritten", () => {
    const { deps, writes } = fake({ T_FD: "3" }, { 3: "same" }, { "/f/token": "same" });
    expect(readToken(sources, deps).source).toBe("fd");
    expect(writes).toEqual([]);
  });

  test("a failed persist still returns the token and says why", () => {
    const { deps } = fake({ T_FD: "3" }, { 3: "tok" });
    deps.writeFile = () => {
      throw new Error("disk full");
    };
    expect(readToken(sources, deps)).toMatchObject({ token: "tok", persistError: "disk full" });
  });

  test("a not-inherited fd falls through to the file", () => {
    const { deps } = fake({ T_FD: "7" }, {}, { "/f/token": "from-file" });
    const r = readToken(sources, deps);
    expect(r).toMatchObject({ token: "from-file", source: "file" });
    expect(r.attempts[1]).toMatchObject({ source: "fd", found: false, note: "fd 7 was not inherited" });
  });

  test.each([
    ["empty env", { T: "  " }, {}, { "/f/token": "file-tok" }],
    ["empty fd", { T_FD: "3" }, { 3: "\n" }, { "/f/token": "file-tok" }],
  ])("%s counts as no token", (_n, env, fds, files) => {
    const { deps } = fake(env as Record<string, string>, fds, files);
    expect(readToken(sources, deps).token).toBe("file-tok");
  });
});

describe("nothing found", () => {
  test("lists every source and why, never a value", () => {
    const { deps } = fake({ T: "", T_FD: "9" }, {}, {});
    let err: unknown;
    try {
      readToken(sources, deps);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenNotFoundError);
    const msg = (err as Error).message;
    expect(msg).toContain("1. env T: empty");
    expect(msg).toContain("2. fd T_FD=9: fd 9 was not inherited");
    expect(msg).toContain("3. file /f/token: does not exist");
    expect((err as TokenNotFoundError).exitCode).toBe(3);
  });

  test("an empty file is no token", () => {
    const { deps } = fake({}, {}, { "/f/token": "\n" });
    expect(() => readToken(sources, deps)).toThrow(/file \/f\/token: empty/);
  });

  test("an insecure file is an error of its own, not 'no token'", () => {
    const { deps } = fake({}, {}, { "/f/token": new InsecureFileError("too open") });
    expect(() => readToken(sources, deps)).toThrow(InsecureFileError);
  });
});

describe("parseFdVar", () => {
  test.each([
    [undefined, undefined],
    ["", undefined],
    ["3", 3],
    [" 0 ", 0],
    ["42", 42],
  ])("%p → %p", (v, n) => expect(parseFdVar("X", v)).toBe(n));

  test.each(["-1", "3.5", "abc", "0x3", "1e3", "99999999999"])("%p is invalid input naming the variable", (v) => {
    expect(() => parseFdVar("MY_FD", v)).toThrow(UsageError);
    expect(() => parseFdVar("MY_FD", v)).toThrow(/MY_FD must hold a file descriptor number/);
  });
});

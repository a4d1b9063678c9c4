/**
 * Token values are validated on every read path with the rule `token set` uses, and the fd source
 * names what it found and never hangs.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, constants, mkdirSync, openSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createServer, connect, type Socket } from "node:net";
import { join } from "node:path";
import { NotFoundError, UsageError } from "../../src/errors.ts";
import { defaultReaderDeps, formatAttempts, InvalidTokenError, readToken, TokenNotFoundError } from "../../src/token/reader.ts";
import { resolveSources } from "../../src/token/sources.ts";
import { tokenValueProblem } from "../../src/token/store.ts";
import { tempDir } from "../support/tmp.ts";

const SECRET = "s3cr3t-value";
const BAD = [
  ["CR/LF", `${SECRET}\r\nX-Injected: 1`, "line break"],
  ["LF", `${SECRET}\nX-Injected: 1`, "line break"],
  ["NUL", `${SECRET}\0x`, "NUL"],
  ["space", `${SECRET} x`, "space"],
  ["tab", `${SECRET}\tx`, "control character"],
  ["DEL", `${SECRET}\x7fx`, "control character"],
  ["non-ASCII", `${SECRET}é`, "outside printable ASCII"],
] as const;

describe("tokenValueProblem", () => {
  test.each(BAD)("%s", (_n, value, problem) => expect(tokenValueProblem(value)).toContain(problem));
  test("a plain token is fine", () => expect(tokenValueProblem("sk-ant-sid01-AbC_123.x~")).toBeUndefined());
});

describe("every read path refuses what token set refuses (exit 2, value never echoed)", () => {
  test.each(BAD)("env: %s", (_n, value, problem) => {
    const env = { HOME: "/h", TOKENCTL_TOKEN: value };
    const err = (() => {
      try {
        readToken(resolveSources({}, env), { ...defaultReaderDeps(env) });
      } catch (e) {
        return e as InvalidTokenError;
      }
    })();
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect(err!.exitCode).toBe(2);
    expect(err!.message).toContain("The token from env TOKENCTL_TOKEN contains a");
    expect(err!.message).toContain(problem);
    expect(err!.message).not.toContain(SECRET);
  });

  test.each(BAD)("file: %s", (_n, value, problem) => {
    const file = join(tempDir(), "token");
    writeFileSync(file, value, { mode: 0o600 });
    const env = { HOME: "/h", TOKENCTL_TOKEN_FILE: file };
    const err = (() => {
      try {
        readToken(resolveSources({}, env), defaultReaderDeps(env));
      } catch (e) {
        return e as InvalidTokenError;
      }
    })();
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect(err!.message).toContain(`The token from file ${file} (TOKENCTL_TOKEN_FILE) contains a`);
    expect(err!.message).toContain(problem);
    expect(err!.message).not.toContain(SECRET);
  });

  test.each(BAD)("fd: %s, and nothing is persisted", (_n, value, problem) => {
    const dir = tempDir();
    const src = join(dir, "fd-source");
    writeFileSync(src, value, { mode: 0o600 });
    const fd = openSync(src, "r");
    const file = join(dir, "state", "token");
    const env = { HOME: "/h", TOKENCTL_TOKEN_FD: String(fd), TOKENCTL_TOKEN_FILE: file };
    try {
      // Opened here, so close-on-exec: say it was handed over, as a parent's would be.
      expect(() => readToken(resolveSources({}, env), defaultReaderDeps(env, { ownFd: () => false }))).toThrow(new RegExp(`^The token from fd TOKENCTL_TOKEN_FD=${fd} contains a .*${problem}`));
    } finally {
      closeSync(fd);
    }
    expect(() => openSync(file, "r")).toThrow();
  });
});

describe("the fd source", () => {
  // These fds are opened here, so close-on-exec: say they were handed over, as a parent's would be.
  const read = (fd: number, fdTimeoutMs?: number) => defaultReaderDeps({}, { fdTimeoutMs, ownFd: () => false }).readFd(fd);

  test("a directory is exit 2 naming the type", () => {
    const fd = openSync(tempDir(), constants.O_RDONLY);
    try {
      expect(() => read(fd)).toThrow(UsageError);
      expect(() => read(fd)).toThrow(`fd ${fd} is a directory, not a pipe or file holding a token`);
    } finally {
      closeSync(fd);
    }
  });

  test("a socket is exit 2 naming the type", async () => {
    const path = join(tempDir(), "s.sock");
    const server = createServer(() => {});
    await new Promise<void>((r) => server.listen(path, r));
    const client: Socket = await new Promise((r) => {
      const c = connect(path, () => r(c));
    });
    try {
      const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
      expect(() => read(fd)).toThrow(`fd ${fd} is a socket`);
    } finally {
      client.destroy();
      server.close();
    }
  });

  test("a FIFO whose writer never finishes ends at the deadline, exit 2", () => {
    const fifo = join(tempDir(), "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    // Read-write: this process is itself a writer that never writes, the case that used to hang.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const err = (() => {
        try {
          read(fd, 150);
        } catch (e) {
          return e as UsageError;
        }
      })();
      expect(err).toBeInstanceOf(UsageError);
      expect(err!.message).toBe(`fd ${fd} (a pipe) gave no end of input within 150 ms (is its writer still holding it open?)`);
      expect(err!.hint).toContain("--fd-timeout");
    } finally {
      closeSync(fd);
    }
  });

  test("an fd that was not inherited is still just a miss", () => {
    expect(read(987654)).toBeUndefined();
  });

  test("an fd the runtime opened itself (close-on-exec) is no source either", () => {
    const file = join(tempDir(), "own");
    writeFileSync(file, "tok-own", { mode: 0o600 });
    const fd = openSync(file, "r");
    try {
      expect(defaultReaderDeps({}, { ownFd: (n) => n === fd }).readFd(fd)).toBeUndefined();
      expect(defaultReaderDeps({}, { ownFd: () => false }).readFd(fd)).toBe("tok-own");
    } finally {
      closeSync(fd);
    }
  });
});

describe("the no-token list names where each location came from", () => {
  test.each([
    [{}, { HOME: "/h" }, "3. file /h/.local/state/tokenctl/token (default): does not exist"],
    [{}, { HOME: "/h", TOKENCTL_TOKEN_FILE: "/x/token" }, "3. file /x/token (TOKENCTL_TOKEN_FILE): does not exist"],
    [{ file: "/y/token" }, { HOME: "/h" }, "3. file /y/token (--file): does not exist"],
    [{ preset: "claude-code" }, { HOME: "/h" }, "1. env CLAUDE_CODE_SESSION_ACCESS_TOKEN (preset claude-code): not set"],
    [{ env: "MY_TOKEN" }, { HOME: "/h" }, "1. env MY_TOKEN (--env): not set"],
  ] as const)("%j %j", (flags, env, line) => {
    const err = (() => {
      try {
        readToken(resolveSources(flags, env), { env, readFd: () => undefined, readFile: (p) => { throw new NotFoundError(`${p} does not exist`); }, writeFile: () => {} });
      } catch (e) {
        return e as TokenNotFoundError;
      }
    })();
    expect(err).toBeInstanceOf(TokenNotFoundError);
    expect(formatAttempts(err!.attempts)).toContain(line);
  });
});

import { describe, expect, it } from "bun:test";
import { EventEmitter } from "node:events";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/tmp.ts";
import { AuthRefusedError, UnavailableError } from "../../src/errors.ts";
import { type SessionService, childEnv, execSession, signalExitCode } from "../../src/session/exec.ts";
import { SessionRegistry } from "../../src/session/registry.ts";
import { TOKEN_ENV, TOKEN_FILE_ENV } from "../../src/session/token.ts";

/** An in-memory daemon stand-in that records what it was asked. */
function fakeService(registry = new SessionRegistry()) {
  const calls: string[] = [];
  const service: SessionService = {
    async register(input) {
      calls.push(`register ${input.pid}`);
      return registry.register(input);
    },
    async revoke(id) {
      calls.push(`revoke ${id}`);
      return registry.revoke(id);
    },
    close: () => void calls.push("close"),
  };
  return { service, calls, registry };
}

function outFile() {
  const path = join(tempDir(), "out");
  const fd = openSync(path, "w", 0o600);
  return { fd, read: () => (closeSync(fd), readFileSync(path, "utf8")) };
}

const noDaemon = async (): Promise<SessionService> => {
  throw new UnavailableError("No daemon at /x.sock");
};

describe("execSession", () => {
  it("gives the child a token file path, registers its own pid, revokes and cleans up after", async () => {
    const { service, calls, registry } = fakeService();
    const out = outFile();
    const parent = tempDir();
    let started: any;
    const script = `echo "pid=$$"; echo "file=$${TOKEN_FILE_ENV}"; echo "token=$(cat "$${TOKEN_FILE_ENV}")"; env`;
    const result = await execSession({
      command: ["sh", "-c", script],
      name: "job",
      scope: "ci",
      dir: parent,
      connect: async () => service,
      env: { PATH: process.env.PATH, [TOKEN_ENV]: "f".repeat(64) },
      stdout: out.fd,
      onStart: (info) => {
        started = info;
        // While it runs, the daemon resolves the token to this very process.
        const token = readFileSync(info.tokenFile, "utf8").trim();
        expect(registry.resolve(token)).toMatchObject({ pid: info.pid, name: "job", scope: "ci" });
      },
    });
    const text = out.read();
    expect(result.code).toBe(0);
    expect(text).toContain(`pid=${started.pid}`);
    expect(text).toContain(`file=${started.tokenFile}`);
    const token = /token=([0-9a-f]{64})/.exec(text)![1]!;
    // The env holds the path; the token is in no env value, and the inherited value was dropped.
    const envLines = text.split("\n").filter((l) => /^[A-Z_]+=/.test(l) && !l.startsWith("token="));
    expect(envLines.some((l) => l === `${TOKEN_FILE_ENV}=${started.tokenFile}`)).toBe(true);
    expect(envLines.some((l) => l.includes(token))).toBe(false);
    expect(envLines.some((l) => l.startsWith(`${TOKEN_ENV}=`))).toBe(false);
    expect(calls).toEqual([`register ${started.pid}`, `revoke ${result.session!.id}`, "close"]);
    expect(registry.size).toBe(0);
    expect(existsSync(started.dir)).toBe(false);
  });

  it.each([
    [["sh", "-c", "exit 7"], 7],
    [["sh", "-c", "kill -TERM $$"], 128 + 15],
    [["sh", "-c", "kill -KILL $$"], 128 + 9],
    [["definitely-not-a-command-xyz"], 127],
  ])("exits with the command's status: %j → %d", async (command, code) => {
    const { service } = fakeService();
    const result = await execSession({ command, connect: async () => service, dir: tempDir(), env: { PATH: process.env.PATH } });
    expect(result.code).toBe(code);
  });

  it("forwards SIGINT, SIGTERM and SIGHUP to the command", async () => {
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      const signals = new EventEmitter();
      const out = outFile();
      const { service } = fakeService();
      const sigName = sig.slice(3);
      const script = `trap 'echo got-${sigName}; exit 42' ${sigName}; echo ready; while :; do sleep 0.02; done`;
      const run = execSession({
        command: ["sh", "-c", script],
        connect: async () => service,
        dir: tempDir(),
        env: { PATH: process.env.PATH },
        signals: signals as never,
        stdout: out.fd,
        onStart: () => setTimeout(() => signals.emit(sig), 150),
      });
      const result = await run;
      expect(result.code).toBe(42);
      expect(out.read()).toContain(`got-${sigName}`);
      expect(signals.listenerCount(sig)).toBe(0);
    }
  });

  it("a forwarded signal the command does not handle gives 128+signal", async () => {
    const signals = new EventEmitter();
    const result = await execSession({
      command: ["sleep", "10"],
      connect: async () => fakeService().service,
      dir: tempDir(),
      env: { PATH: process.env.PATH },
      signals: signals as never,
      onStart: () => setTimeout(() => signals.emit("SIGTERM"), 50),
    });
    expect(result).toMatchObject({ code: 143, signal: "SIGTERM" });
  });

  it("without a daemon it warns once and still runs the command", async () => {
    const warnings: string[] = [];
    const out = outFile();
    const result = await execSession({
      command: ["sh", "-c", `test -s "$${TOKEN_FILE_ENV}" && echo has-token`],
      connect: noDaemon,
      dir: tempDir(),
      env: { PATH: process.env.PATH },
      warn: (m) => warnings.push(m),
      stdout: out.fd,
    });
    expect(result.code).toBe(0);
    expect(result.session).toBeUndefined();
    expect(out.read()).toContain("has-token");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("No daemon");
  });

  it("with requireDaemon and no daemon it refuses before running anything", async () => {
    const parent = tempDir();
    const marker = join(parent, "ran");
    const p = execSession({ command: ["touch", marker], connect: noDaemon, requireDaemon: true, dir: parent, env: { PATH: process.env.PATH } });
    await expect(p).rejects.toBeInstanceOf(UnavailableError);
    await p.catch(() => {});
    expect(existsSync(marker)).toBe(false);
  });

  it("a refused registration never runs the command and leaves nothing behind", async () => {
    const parent = tempDir();
    const marker = join(parent, "ran");
    let dir = "";
    const service: SessionService = {
      register: async () => {
        throw new AuthRefusedError("daemon refused");
      },
      revoke: async () => undefined,
    };
    const p = execSession({ command: ["touch", marker], connect: async () => service, dir: parent, env: { PATH: process.env.PATH }, onStart: (i) => (dir = i.dir) });
    await expect(p).rejects.toBeInstanceOf(AuthRefusedError);
    await p.catch(() => {});
    expect(existsSync(marker)).toBe(false);
    expect(dir).toBe("");
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(parent)).toEqual([]);
  });

  it("a failing revoke is a warning, the directory is still removed", async () => {
    const warnings: string[] = [];
    const { service } = fakeService();
    service.revoke = async () => {
      throw new UnavailableError("daemon went away");
    };
    let dir = "";
    const result = await execSession({ command: ["true"], connect: async () => service, dir: tempDir(), env: { PATH: process.env.PATH }, warn: (m) => warnings.push(m), onStart: (i) => (dir = i.dir) });
    expect(result.code).toBe(0);
    expect(warnings[0]).toContain("reaper will drop it");
    expect(existsSync(dir)).toBe(false);
  });
});

describe("helpers", () => {
  it("signalExitCode", () => {
    expect(signalExitCode("SIGINT")).toBe(130);
    expect(signalExitCode("SIGHUP")).toBe(129);
  });
  it("childEnv sets the path and drops the token value", () => {
    expect(childEnv({ A: "1", [TOKEN_ENV]: "x", B: undefined }, "/f")).toEqual({ A: "1", [TOKEN_FILE_ENV]: "/f" });
  });
});

/**
 * The command line through the compiled binary: the one failure rule under --json (one JSON error
 * object on stdout, the message on stderr), the argument checks ("Did you mean", extra arguments,
 * the missing `--`), `tokenctl help X`, a group without its subcommand, and help that fits.
 */
import { describe, expect, it } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBin, spawnDaemon } from "../support/bin.ts";
import { tempDir } from "../support/tmp.ts";

/** An env with nothing configured: no token, no daemon, no Vault. */
function bare(): Record<string, string> {
  const home = tempDir();
  return { HOME: home, XDG_STATE_HOME: join(home, "state"), XDG_CONFIG_HOME: join(home, "config"), XDG_RUNTIME_DIR: join(home, "run") };
}

/** stdout must be exactly one JSON value: the error object. */
function errorObject(stdout: string): { error: { code: number; kind: string; message: string; hint?: string }; result?: unknown } {
  expect(stdout.trim().split("\n")).toHaveLength(1);
  const out = JSON.parse(stdout);
  expect(Object.keys(out).filter((k) => k !== "error" && k !== "result")).toEqual([]);
  return out;
}

describe("--json failures: one JSON error object on stdout, the message on stderr, the exit code", () => {
  it.each([
    ["token get, no token", ["token", "get", "--json"], 3, "not_found", "No token found"],
    ["token headers, no token", ["token", "headers", "--json"], 3, "not_found", "No token found"],
    ["session whoami, no session", ["session", "whoami", "--json"], 3, "not_found", "no usable session token"],
    ["call, no daemon", ["call", "ping", "--json"], 5, "unavailable", "No tokenctl daemon answers"],
    ["vault status, no address", ["vault", "status", "--path", "claude/alice", "--json"], 2, "usage", "No Vault address"],
    ["a mistyped flag", ["token", "get", "--json", "--fiel", "/x"], 2, "usage", 'Did you mean "--file"?'],
    ["an extra argument", ["call", "ping", "pong", "--json"], 2, "usage", 'Unexpected argument "pong"'],
  ])("%s", async (_, args, code, kind, message) => {
    const r = await runBin(args, { env: bare() });
    expect(r.code).toBe(code);
    const { error } = errorObject(r.stdout);
    expect(error).toMatchObject({ code, kind });
    expect(error.message).toContain(message);
    expect(r.stderr).toContain(message);
    if (error.hint) expect(r.stderr).toContain(`Fix: ${error.hint}`);
  });

  it("vault sync against an unreachable Vault: the error object, exit 5", async () => {
    const env = bare();
    const tokenFile = join(env.HOME!, "vault.token");
    writeFileSync(tokenFile, "hvs.MARKER-UNREACHABLE\n", { mode: 0o600 });
    const r = await runBin(["vault", "sync", "--json", "--addr", "http://127.0.0.1:9", "--path", "claude/alice", "--token-file", tokenFile, "--timeout", "2"], { env });
    expect(r.code).toBe(5);
    expect(errorObject(r.stdout).error).toMatchObject({ code: 5, kind: "unavailable" });
    expect(`${r.stdout}${r.stderr}`).not.toContain("MARKER");
  });

  it("call with an error answer: the answer rides on the error object as result (one JSON value), exit 1", async () => {
    const env = bare();
    const { proc } = await spawnDaemon([], env);
    try {
      const r = await runBin(["call", "frob", "--json"], { env });
      expect(r.code).toBe(1);
      const out = errorObject(r.stdout);
      expect(out.error).toMatchObject({ code: 1, kind: "failed" });
      expect(out.result).toEqual({ type: "error", id: 1, message: "Unknown message type: frob" });
      expect(r.stderr).toContain('The daemon answered "frob" with an error');
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });

  it("doctor with a failing check: every row rides on the error object as result, exit 1", async () => {
    const env = bare();
    mkdirSync(join(env.XDG_STATE_HOME!, "tokenctl"), { recursive: true, mode: 0o755 });
    const r = await runBin(["doctor", "--json"], { env });
    expect(r.code).toBe(1);
    const out = errorObject(r.stdout);
    expect(out.error).toMatchObject({ code: 1, kind: "failed" });
    expect(out.result).toEqual(expect.arrayContaining([expect.objectContaining({ name: "state dir", status: "fail" })]));
  });

  it("without --json, stdout stays empty", async () => {
    const r = await runBin(["token", "get"], { env: bare() });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
  });
});

describe("messages name where things came from and the command that was run", () => {
  it("the no-token list names the origin of each location; the fix writes where this command reads", async () => {
    const env = { ...bare(), TOKENCTL_TOKEN_FILE: "/nonexistent/token" };
    const r = await runBin(["token", "get"], { env });
    expect(r.stderr).toContain("file /nonexistent/token (TOKENCTL_TOKEN_FILE): does not exist");
    const f = await runBin(["token", "get", "--file", "/nonexistent/other"], { env });
    expect(f.stderr).toContain("file /nonexistent/other (--file): does not exist");
    expect(f.stderr).toContain("tokenctl token set --file /nonexistent/other");
    const p = await runBin(["token", "headers", "--preset", "claude-code"], { env: bare() });
    expect(p.stderr).toContain("(preset claude-code): does not exist");
    expect(p.stderr).toContain("tokenctl token set --preset claude-code");
  });

  it("vault status without an address suggests vault status, not vault sync", async () => {
    const r = await runBin(["vault", "status", "--path", "claude/alice"], { env: bare() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Fix: tokenctl vault status --addr");
    expect(r.stderr).not.toContain("vault sync");
  });
});

describe("argument checks", () => {
  it.each([
    ["a mistyped command", ["token", "gte"], 'Unknown command "gte" for tokenctl token. Did you mean "get"?'],
    ["a mistyped top-level command", ["sesion", "list"], 'Did you mean "session"?'],
    ["a mistyped flag", ["token", "get", "--jsno"], 'Unknown flag --jsno for tokenctl token get. Did you mean "--json"?'],
    ["an extra argument", ["token", "get", "extra"], 'Unexpected argument "extra" for tokenctl token get'],
    ["a missing argument", ["completion"], "Missing <bash|zsh|fish> for tokenctl completion"],
    ["a wrong choice", ["completion", "tcsh"], "choose one of: bash, zsh, fish"],
    ["a command without --", ["session", "exec", "--name", "w1", "sh", "-c", "true"], "Fix: Put -- before the command to run: tokenctl session exec --name w1 -- sh -c true"],
    ["exec without --", ["exec", "--oauth", "work", "env"], "Fix: Put -- before the command to run: tokenctl exec --oauth work -- env"],
  ])("%s: exit 2, %s", async (_, args, message) => {
    const r = await runBin(args, { env: bare() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(message);
  });

  it("a group without its subcommand prints its help on stderr and exits 2", async () => {
    const r = await runBin(["session"], { env: bare() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("USAGE\n\n  tokenctl session COMMAND");
    expect(r.stderr).toContain("COMMANDS");
  });

  it("tokenctl help X is tokenctl X --help", async () => {
    const a = await runBin(["help", "session", "exec"], { env: bare() });
    const b = await runBin(["session", "exec", "--help"], { env: bare() });
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toContain("tokenctl session exec [OPTIONS] -- CMD [ARGS…]");
    const top = await runBin(["help"], { env: bare() });
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("COMMANDS");
  });

  it("help wraps to COLUMNS, with no trailing blanks", async () => {
    const r = await runBin(["vault", "sync", "--help"], { env: { ...bare(), COLUMNS: "60" } });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines.filter((l) => l.length > 60)).toEqual([]);
    expect(lines.filter((l) => l !== l.trimEnd())).toEqual([]);
  });
});

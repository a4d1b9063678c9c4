/** The token reader through the compiled binary, the way shell scripts and agents call it. */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBin, type BinResult } from "../support/bin.ts";
import { tempDir } from "../support/tmp.ts";

// Marker secrets: none of them may ever appear on stderr.
const SECRET = "tok-SMOKE-5f1c2d9e";
const SESSION_KEY = "sk-ant-sid01-SMOKE-77aa";
const stderrs: string[] = [];

async function tokenctl(args: string[], opts: Parameters<typeof runBin>[1] = {}): Promise<BinResult> {
  const r = await runBin(args, opts);
  stderrs.push(r.stderr);
  return r;
}

function tokenFile(content: string, perms = 0o600): string {
  const p = join(tempDir(), "token");
  writeFileSync(p, content, { mode: perms });
  chmodSync(p, perms);
  return p;
}

afterAll(() => {
  for (const s of stderrs) {
    expect(s).not.toContain(SECRET);
    expect(s).not.toContain(SESSION_KEY);
  }
});

describe("token get", () => {
  test("reads the well-known file and prints only the token", async () => {
    const r = await tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FILE: tokenFile(`${SECRET}\n`) } });
    expect(r).toMatchObject({ code: 0, stdout: `${SECRET}\n`, stderr: "" });
  });

  test("default file under XDG_STATE_HOME", async () => {
    const state = tempDir();
    mkdirSync(join(state, "tokenctl"), { mode: 0o700 });
    writeFileSync(join(state, "tokenctl", "token"), SECRET, { mode: 0o600 });
    const r = await tokenctl(["token", "get"], { env: { XDG_STATE_HOME: state } });
    expect(r.stdout).toBe(`${SECRET}\n`);
  });

  test("env beats the file; --explain says so on stderr", async () => {
    const r = await tokenctl(["token", "get", "--explain"], { env: { TOKENCTL_TOKEN: SECRET, TOKENCTL_TOKEN_FILE: tokenFile("other") } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${SECRET}\n`);
    expect(r.stderr).toContain("Token from env");
  });

  test("a real inherited fd 3 is read once and persisted 0600 for subprocesses", async () => {
    const dir = tempDir();
    const src = join(dir, "handoff");
    writeFileSync(src, SECRET, { mode: 0o600 });
    const fd = openSync(src, "r");
    const file = join(dir, "state", "token");
    try {
      const r = await tokenctl(["token", "get", "--explain"], { env: { TOKENCTL_TOKEN_FD: "3", TOKENCTL_TOKEN_FILE: file }, extraFds: [fd] });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${SECRET}\n`);
      expect(r.stderr).toContain("Token from fd");
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, "utf8")).toBe(SECRET);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "state")).mode & 0o777).toBe(0o700);
    // A subprocess that got the variable but not the fd finds the persisted file.
    const child = await tokenctl(["token", "get", "--explain"], { env: { TOKENCTL_TOKEN_FD: "3", TOKENCTL_TOKEN_FILE: file } });
    expect(child.code).toBe(0);
    expect(child.stdout).toBe(`${SECRET}\n`);
    expect(child.stderr).toContain("fd 3 was not inherited");
  });

  test("a pipe on fd 3 works too", async () => {
    const file = join(tempDir(), "token");
    const proc = Bun.spawn(["sh", "-c", `printf %s "$T" | "$BIN" token get 3<&0 0</dev/null`], {
      env: { T: SECRET, BIN: (await import("../support/bin.ts")).BIN, TOKENCTL_TOKEN_FD: "3", TOKENCTL_TOKEN_FILE: file, PATH: process.env.PATH! },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await new Response(proc.stdout).text()).toBe(`${SECRET}\n`);
    stderrs.push(await new Response(proc.stderr).text());
    expect(await proc.exited).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(SECRET);
  });

  test.each(["abc", "-1", "3.0"])("fd variable %p is invalid input: exit 2 naming it", async (v) => {
    const r = await tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FD: v, TOKENCTL_TOKEN_FILE: tokenFile(SECRET) } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("TOKENCTL_TOKEN_FD must hold a file descriptor number");
  });

  test("nothing found: exit 3, empty stdout, each source and why on stderr", async () => {
    const r = await tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FILE: join(tempDir(), "missing") } });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("env TOKENCTL_TOKEN: not set");
    expect(r.stderr).toContain("fd TOKENCTL_TOKEN_FD: not set");
    expect(r.stderr).toContain("does not exist");
  });

  test("an empty file is no token (exit 3)", async () => {
    const r = await tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FILE: tokenFile("\n") } });
    expect(r.code).toBe(3);
  });

  test("mode 0644 is refused with the chmod that fixes it (exit 2)", async () => {
    const p = tokenFile(SECRET, 0o644);
    const r = await tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FILE: p } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("0644");
    expect(r.stderr).toContain(`chmod 600 ${p}`);
  });

  test("a symlink is refused (exit 2)", async () => {
    const target = tokenFile(SECRET);
    const link = join(tempDir(), "link");
    symlinkSync(target, link);
    const r = await tokenctl(["token", "get", "--file", link]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("symbolic link");
  });

  test("a 1 MiB file is refused (exit 2)", async () => {
    const r = await tokenctl(["token", "get", "--file", tokenFile("x".repeat(1 << 20))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("at most 65536 bytes");
  });

  test("--preset claude-code reads Claude Code's variables", async () => {
    const r = await tokenctl(["token", "get", "--preset", "claude-code"], { env: { CLAUDE_CODE_SESSION_ACCESS_TOKEN: SECRET } });
    expect(r.stdout).toBe(`${SECRET}\n`);
  });

  test("--json carries token and source", async () => {
    const r = await tokenctl(["token", "get", "--json"], { env: { TOKENCTL_TOKEN: SECRET } });
    expect(JSON.parse(r.stdout)).toEqual({ token: SECRET, source: "env" });
  });
});

describe("token headers", () => {
  test("bearer for an ordinary token", async () => {
    const r = await tokenctl(["token", "headers"], { env: { TOKENCTL_TOKEN: SECRET } });
    expect(r.stdout).toBe(`Authorization: Bearer ${SECRET}\n`);
  });

  test("cookie and organization for a session key", async () => {
    const r = await tokenctl(["token", "headers"], { env: { TOKENCTL_TOKEN: SESSION_KEY, TOKENCTL_ORGANIZATION_UUID: "org-9" } });
    expect(r.stdout).toBe(`Cookie: sessionKey=${SESSION_KEY}\nX-Organization-Uuid: org-9\n`);
  });

  test("--json with the preset's organization variable", async () => {
    const r = await tokenctl(["token", "headers", "--json", "--preset", "claude-code"], {
      env: { CLAUDE_CODE_SESSION_ACCESS_TOKEN: SESSION_KEY, CLAUDE_CODE_ORGANIZATION_UUID: "org-7" },
    });
    expect(JSON.parse(r.stdout)).toEqual({ Cookie: `sessionKey=${SESSION_KEY}`, "X-Organization-Uuid": "org-7" });
  });
});

describe("token set", () => {
  test("reads stdin and writes the file 0600 atomically", async () => {
    const file = join(tempDir(), "sub", "token");
    const r = await tokenctl(["token", "set", "--file", file], { stdin: `${SECRET}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(readFileSync(file, "utf8")).toBe(SECRET);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = await tokenctl(["token", "get", "--file", file]);
    expect(back.stdout).toBe(`${SECRET}\n`);
  });

  test("empty stdin is refused and the old token is kept", async () => {
    const file = tokenFile(SECRET);
    const r = await tokenctl(["token", "set", "--file", file], { stdin: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("No token on stdin");
    expect(readFileSync(file, "utf8")).toBe(SECRET);
  });
});

describe("the command line", () => {
  test.each([
    [["token", "get", "--jsno"], 2, "Unknown flag --jsno"],
    [["nope"], 2, "Unknown command"],
    [["token", "get", "--preset", "x"], 2, "preset"],
    [[], 2, "USAGE"],
  ])("%j exits %i", async (args, code, text) => {
    const r = await tokenctl(args);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(text);
  });

  test("--help goes to stdout with exit 0", async () => {
    const r = await tokenctl(["token", "get", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("tokenctl token get");
    expect(r.stdout).toContain("--fd-env");
  });

  test("--version", async () => {
    const r = await tokenctl(["--version"]);
    // version, the commit it was built from (scripts/build-info.ts) and the target
    const version = (await Bun.file("package.json").json()).version;
    const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"]).stdout.toString().trim();
    expect(r.stdout).toMatch(new RegExp(`^${version.replaceAll(".", "\\.")} \\(commit ${head}(-dirty)?, linux-(x64|arm64)(-musl)?\\)\n$`));
  });
});

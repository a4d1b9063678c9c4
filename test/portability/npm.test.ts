/**
 * The npm package as a user gets it: `npm pack` (its prepack builds dist/npm), the tarball
 * installed into an empty Node project, then the CLI and the library run under Node and under Deno
 * (the npm package `deno`), against the compiled binary's daemon. Runs after `npm run build`
 * (package.json's test script), since the daemon is dist/tokenctl.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { BIN, type DaemonReady, spawnDaemon } from "../support/bin.ts";
import { loginWithBinary } from "../support/login.ts";
import { CLIENT_ID, startOidc } from "../support/oidc.ts";

// Each case starts a runtime (npx alone takes seconds on a loaded machine). A test that times out
// has its subprocesses killed by bun test, the daemon among them, so the limit is generous.
setDefaultTimeout(60_000);

const ROOT = join(import.meta.dir, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const SECRET = "tok-PORTABLE-41c9e2";

function which(name: string, extra: string[] = []): string | undefined {
  for (const dir of [...extra, ...(process.env.PATH ?? "").split(delimiter)]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}
const NODE = which("node");
// The devDependency `deno`; on a machine where `npm install` has not run since it was added, a
// deno on PATH. CI installs it, so there its absence fails rather than skips.
const DENO = which("deno", [join(ROOT, "node_modules", ".bin")]);
if (!DENO && !process.env.CI) console.warn("test/portability: no deno (run npm install): the Deno cases are skipped");
const denoTest = DENO || process.env.CI ? test : test.skip;

const root = mkdtempSync(join(tmpdir(), "tokenctl-portability-"));
const project = join(root, "project");
const home = join(root, "home");
const denoDir = join(root, "deno-cache");
let tarball = "";
let daemon: DaemonReady | undefined;
let daemonEnv: Record<string, string> = {};

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A clean env for a child: PATH and HOME, Deno's cache and no update check, plus `env`. */
function envFor(env: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: home, NO_COLOR: "1", DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1", ...env };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

function run(cmd: string[], opts: { env?: Record<string, string | undefined>; fds?: number[]; input?: string } = {}): Result {
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: project,
    env: envFor(opts.env),
    input: opts.input,
    stdio: ["pipe", "pipe", "pipe", ...(opts.fds ?? [])],
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const installed = () => join(project, "node_modules", "tokenctl");
const binJs = () => join(installed(), "dist", "npm", "bin.js");
const RUNTIMES = [
  ["node", () => [NODE!, binJs()]],
  ["deno", () => [DENO!, "run", "-A", binJs()]],
] as const;

beforeAll(async () => {
  mkdirSync(home, { mode: 0o700 });
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
  const packed = spawnSync("npm", ["pack", "--pack-destination", root], { cwd: ROOT, encoding: "utf8", timeout: 170_000 });
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  tarball = join(root, packed.stdout.trim().split("\n").pop()!);
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  const inst = spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: project, encoding: "utf8", timeout: 170_000 });
  if (inst.status !== 0) throw new Error(`npm install of the tarball failed: ${inst.stderr}`);
  // The daemon is the compiled binary's, in its own 0700 dir.
  const run = join(root, "run");
  mkdirSync(run, { mode: 0o700 });
  daemonEnv = { TOKENCTL_SOCKET: join(run, "tokenctl.sock"), TOKENCTL_DAEMON_TOKEN_FILE: join(run, "daemon.token"), XDG_STATE_HOME: join(root, "state") };
  daemon = await spawnDaemon([], { ...daemonEnv, HOME: home });
}, 360_000);

afterAll(async () => {
  if (daemon) {
    daemon.proc.kill("SIGTERM");
    await daemon.proc.exited;
  }
  rmSync(root, { recursive: true, force: true });
});

describe("the package", () => {
  test("installs without dependencies: everything is bundled", () => {
    expect(readdirSync(join(project, "node_modules")).filter((n) => !n.startsWith("."))).toEqual(["tokenctl"]);
    const meta = JSON.parse(readFileSync(join(installed(), "package.json"), "utf8"));
    expect(meta.bin).toEqual({ tokenctl: "dist/npm/bin.js" });
    expect(meta.exports["."]).toEqual({ types: "./dist/npm/types/index.d.ts", import: "./dist/npm/index.js" });
    expect(meta.dependencies ?? {}).toEqual({});
  });

  test("the built output: one shebang, on bin.js; one TokenctlError class; no require()", () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith(".js")) files.push(join(dir, e.name));
      }
    };
    walk(join(installed(), "dist", "npm"));
    const texts = files.map((f) => [f, readFileSync(f, "utf8")] as const);
    expect(texts.filter(([, t]) => /^#!/m.test(t)).map(([f]) => f)).toEqual([binJs()]);
    expect(readFileSync(binJs(), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    // Two definitions would mean a module was duplicated: instanceof fails, exit codes become 1.
    const classes = texts.flatMap(([, t]) => t.match(/class TokenctlError\w*\s+extends\s+Error\b/g) ?? []);
    expect(classes).toHaveLength(1);
    // A bare require() throws in an ES module under Node; createRequire's (bundled polyfills) is fine.
    expect(texts.filter(([, t]) => /(?<![\w$.])require\(/.test(t)).map(([f]) => f)).toEqual([]);
  });

  test("npx tokenctl --version prints the package's version", () => {
    const r = run(["npx", "--no", "--", "tokenctl", "--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split(/\s/)[0]).toBe(pkg.version);
  });

  test("its type declarations check in a TypeScript project without Node's types", () => {
    writeFileSync(
      join(project, "consumer.ts"),
      [
        `import { getToken, connectDaemon, TokenctlError, type SessionRecord } from "tokenctl";`,
        `const t: { token: string; source: "env" | "fd" | "file" } = await getToken({ preset: "claude-code" });`,
        `const c = await connectDaemon({ timeoutMs: 1000 });`,
        `const r: Record<string, unknown> = await c.request({ type: "ping" });`,
        `const s: SessionRecord | undefined = c.session;`,
        `c.close();`,
        `export const all = [t, r, s, TokenctlError];`,
      ].join("\n"),
    );
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "nodenext", target: "es2022", strict: true, noEmit: true, types: [] }, files: ["consumer.ts"] }));
    const r = run([NODE!, join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

for (const [name, cmd] of RUNTIMES) {
  const t = name === "deno" ? denoTest : test;
  describe(`the CLI under ${name}`, () => {
    const tokenctl = (args: string[], opts?: Parameters<typeof run>[1]) => run([...cmd(), ...args], opts);

    t("token get: env, then file; --json", () => {
      expect(tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN: SECRET } })).toEqual({ code: 0, stdout: `${SECRET}\n`, stderr: "" });
      const file = join(root, `token-${name}`);
      writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
      expect(tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FILE: file } }).stdout).toBe(`${SECRET}\n`);
      const json = tokenctl(["token", "get", "--json"], { env: { TOKENCTL_TOKEN_FILE: file } });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({ token: SECRET, source: "file" });
    });

    t("token get: an inherited fd; a number the parent did not pass is no source", () => {
      const file = join(root, `fd-${name}`);
      writeFileSync(file, SECRET, { mode: 0o600 });
      const fd = openSync(file, "r");
      const saved = join(root, `saved-${name}`);
      try {
        const r = tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FD: "3", TOKENCTL_TOKEN_FILE: saved }, fds: [fd] });
        expect(r).toEqual({ code: 0, stdout: `${SECRET}\n`, stderr: "" });
      } finally {
        closeSync(fd);
      }
      // Numbers the runtime itself uses: exit 3, not a 2 s wait nor a read of the runtime's files
      // (Node's libuv self-pipes from fd 4; Deno's sockets from fd 7 and module caches from fd 11).
      for (const n of name === "node" ? ["4", "5", "11"] : ["4", "7", "11", "12"]) {
        const miss = tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FD: n, TOKENCTL_TOKEN_FILE: join(root, "none") } });
        expect(miss.stderr).toContain(`fd ${n} was not inherited`);
        expect(miss.code).toBe(3);
      }
    });

    t("no token is exit 3, a bad flag exit 2 (one error class, not two), nothing on stdout", () => {
      const none = tokenctl(["token", "get"], { env: { TOKENCTL_TOKEN_FILE: join(root, "none") } });
      expect(none.code).toBe(3);
      expect(none.stdout).toBe("");
      expect(none.stderr).toContain("No token found");
      const bad = tokenctl(["token", "get", "--jsno"]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("Unknown flag --jsno");
    });

    t("--version", () => {
      const r = tokenctl(["--version"]);
      expect(r.code).toBe(0);
      expect(r.stdout.split(/\s/)[0]).toBe(pkg.version);
    });

    t("daemon is the binary's: exit 2 pointing to it, no socket made", () => {
      const socket = join(root, `daemon-${name}.sock`);
      const r = tokenctl(["daemon", "--socket", socket]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("tokenctl binary");
      expect(existsSync(socket)).toBe(false);
    });

    t("call ping against the binary's daemon (the handshake verifies it first)", () => {
      const r = tokenctl(["call", "ping"], { env: daemonEnv });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toMatchObject({ type: "pong" });
      const wrong = join(root, `wrong-${name}`);
      writeFileSync(wrong, "0".repeat(64), { mode: 0o600 });
      expect(tokenctl(["call", "ping"], { env: { ...daemonEnv, TOKENCTL_DAEMON_TOKEN_FILE: wrong } }).code).toBe(4);
    });

    t(`--help lists every command under ${name} (it loads them all)`, async () => {
      const r = tokenctl(["--help"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      for (const command of ["token", "daemon", "call", "session", "oauth", "vault", "doctor"]) expect(r.stdout).toContain(command);
    });

    t(`session whoami under ${name} inside the binary's session exec`, async () => {
      const r = run([BIN, "session", "exec", "--scope", `port-${name}`, "--", ...cmd(), "session", "whoami", "--json"], { env: daemonEnv });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ scope: `port-${name}` });
    });

    t(`oauth token under ${name} from a file store`, async () => {
      const dir = join(root, `oauth-${name}`);
      mkdirSync(join(dir, "config", "tokenctl"), { recursive: true, mode: 0o700 });
      const store = join(dir, "creds.json");
      writeFileSync(store, JSON.stringify({ accessToken: `at-${name}`, expiresAt: Date.now() + 3_600_000, scopes: [] }), { mode: 0o600 });
      writeFileSync(join(dir, "config", "tokenctl", "config.json"), JSON.stringify({ oauth: { profiles: { p: { issuer: "https://auth.example.com", clientId: "c", store: `file:${store}` } } } }));
      const r = tokenctl(["oauth", "token", "--profile", "p"], { env: { XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state"), TOKENCTL_SOCKET: join(dir, "none.sock") } });
      expect(r.stderr).toBe("");
      expect(r).toMatchObject({ code: 0, stdout: `at-${name}\n` });
    });
  });

  describe(`the library under ${name}`, () => {
    const script = (file: string, body: string) => {
      writeFileSync(join(project, file), body);
      return name === "node" ? [NODE!, file] : [DENO!, "run", "-A", file];
    };

    t("import { getToken } from \"tokenctl\": a token, or exitCode 3 and instanceof TokenctlError", () => {
      const cmd = script(
        `get-${name}.mjs`,
        `import { getToken, TokenctlError, NotFoundError } from "tokenctl";
const got = await getToken();
let miss;
try { await getToken({ env: { HOME: "/nonexistent" } }); } catch (e) { miss = { tokenctl: e instanceof TokenctlError, notFound: e instanceof NotFoundError, exitCode: e.exitCode }; }
console.log(JSON.stringify({ got, miss }));`,
      );
      const r = run(cmd, { env: { TOKENCTL_TOKEN: SECRET } });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual({ got: { token: SECRET, source: "env" }, miss: { tokenctl: true, notFound: true, exitCode: 3 } });
    });

    t("connectDaemon: the handshake with the binary's daemon, a request, an event", () => {
      const cmd = script(
        `daemon-${name}.mjs`,
        `import { connectDaemon } from "tokenctl";
const c = await connectDaemon();
const pong = await c.request({ type: "ping" });
let onEvent;
const got = new Promise((resolve) => (onEvent = resolve));
await c.subscribe(["port"], onEvent);
const published = await c.request({ type: "publish", topic: "port", data: { from: "${name}" } });
const event = await got;
c.close();
console.log(JSON.stringify({ pong, published, event, session: c.session ?? null }));`,
      );
      const r = run(cmd, { env: daemonEnv });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual({ pong: { type: "pong", id: 1 }, published: { type: "published", id: 3, delivered: 1 }, event: { topic: "port", data: { from: name } }, session: null });
    });

    t("whoami inside the binary's session exec", () => {
      const cmd = script(`whoami-${name}.mjs`, `import { whoami } from "tokenctl";\nconsole.log(JSON.stringify(await whoami()));`);
      const r = run([BIN, "session", "exec", "--scope", `lib-${name}`, "--", ...cmd], { env: daemonEnv });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toMatchObject({ scope: `lib-${name}`, id: expect.any(String) });
    });
  });
}

describe("one rotating credential shared by the binary and Node", () => {
  /** Run a command without waiting for it, so many run at once. */
  async function start(cmd: string[], env: Record<string, string>): Promise<Result> {
    const proc = Bun.spawn(cmd, { cwd: project, env: envFor(env), stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  }

  test("getAccessToken under Node and Deno refreshes an expired token in the calling process", async () => {
    const oidc = await startOidc({ accessTokenTtl: 3600 });
    try {
      for (const [name, runtime] of [["node", [NODE!]], ...(DENO ? [["deno", [DENO, "run", "-A"]]] : [])] as Array<[string, string[]]>) {
        const dir = join(root, `access-${name}`);
        mkdirSync(join(dir, "shared"), { recursive: true, mode: 0o700 });
        const file = join(dir, "shared", "credentials.json");
        const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state"), TOKENCTL_SOCKET: join(dir, "no-daemon.sock") };
        const login = await loginWithBinary(oidc, ["--profile", "lib", "--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--scope", "openid offline_access", "--store", `file:${file}`], env);
        expect(login.code).toBe(0);
        const doc = JSON.parse(readFileSync(file, "utf8"));
        writeFileSync(file, JSON.stringify({ ...doc, expiresAt: Date.now() - 1000 }));
        writeFileSync(join(project, `access-${name}.mjs`), `import { getAccessToken } from "tokenctl";\nconst t = await getAccessToken({ profile: "lib" });\nconsole.log(JSON.stringify({ accessToken: t.accessToken, source: t.source }));\n`);
        const before = oidc.counts.refresh;
        // Not spawnSync: the authorization server runs in this process and must keep answering.
        const r = await start([...runtime, `access-${name}.mjs`], env);
        expect(r.stderr).toBe("");
        const got = JSON.parse(r.stdout);
        expect(got.accessToken).not.toBe(doc.accessToken);
        expect(got.accessToken).toBe(JSON.parse(readFileSync(file, "utf8")).accessToken);
        expect(oidc.counts.refresh - before).toBe(1);
      }
    } finally {
      await oidc.close();
    }
  });

  test("the storm: 16 binary and 16 Node processes on one expired store, exactly 1 refresh, no failure, one token", async () => {
    const oidc = await startOidc({ accessTokenTtl: 3600 });
    try {
      const dir = join(root, "storm");
      mkdirSync(join(dir, "shared"), { recursive: true, mode: 0o700 });
      const file = join(dir, "shared", "credentials.json");
      const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state"), TOKENCTL_SOCKET: join(dir, "no-daemon.sock") };
      const args = ["--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--scope", "openid offline_access", "--store", `file:${file}#agent`];
      const login = await loginWithBinary(oidc, args, env);
      expect(login.code).toBe(0);
      expect(JSON.parse(readFileSync(file, "utf8")).agent.refreshToken).toBeString();
      // Expired locally; the refresh token stays valid at the server, which rotates it on use.
      const doc = JSON.parse(readFileSync(file, "utf8"));
      doc.agent.expiresAt = Date.now() - 1000;
      writeFileSync(file, JSON.stringify(doc));
      const before = { ...oidc.counts };
      const runs = await Promise.all(
        Array.from({ length: 32 }, (_, i) => start(i % 2 ? [NODE!, binJs(), "oauth", "token", ...args] : [BIN, "oauth", "token", ...args], env)),
      );
      expect(runs.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
      expect(new Set(runs.map((r) => r.stdout))).toEqual(new Set([`${JSON.parse(readFileSync(file, "utf8")).agent.accessToken}\n`]));
      expect(oidc.counts.refresh - before.refresh).toBe(1);
      expect(oidc.counts.refreshFailed - before.refreshFailed).toBe(0);
    } finally {
      await oidc.close();
    }
  });
});

// The file mode is checked by the token reader; keep the fixture dir private like a user's.
chmodSync(root, 0o700);

/**
 * The library (src/index.ts) under Bun, against a real daemon on a real Unix socket. The same API
 * under Node and Deno, from the packed npm package, is in test/portability/npm.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DaemonHandle, startDaemon } from "../src/daemon/server.ts";
import { AuthRefusedError, connectDaemon, type DaemonEvent, getAccessToken, getToken, InsecureFileError, NotFoundError, TokenctlError, UnavailableError, UsageError, whoami } from "../src/index.ts";
import { createSessionExtension } from "../src/session/extension.ts";
import { fileRegistryStore } from "../src/session/registry.ts";
import { mintSessionFile, mintToken } from "../src/session/token.ts";
import { CLIENT_ID, loginGrant, startOidc } from "./support/oidc.ts";
import { resolveProfile } from "../src/oauth/config.ts";
import { tempDir } from "./support/tmp.ts";

const SECRET = "tok-LIBRARY-7f3a9c";

function tokenFile(content: string, mode = 0o600): string {
  const dir = tempDir();
  const file = join(dir, "token");
  writeFileSync(file, content, { mode });
  chmodSync(file, mode);
  return file;
}

describe("getToken", () => {
  test.each([
    ["the env var", { TOKENCTL_TOKEN: ` ${SECRET}\n` }, {}, "env"],
    ["the file", { TOKENCTL_TOKEN_FILE: "<file>" }, {}, "file"],
    ["another env var, as --env", { MY_TOKEN: SECRET }, { envName: "MY_TOKEN" }, "env"],
    ["the claude-code preset", { CLAUDE_CODE_SESSION_ACCESS_TOKEN: SECRET }, { preset: "claude-code" as const }, "env"],
  ])("from %s", async (_what, vars, options, source) => {
    const env: Record<string, string> = { HOME: tempDir(), ...vars };
    if (env.TOKENCTL_TOKEN_FILE === "<file>") env.TOKENCTL_TOKEN_FILE = tokenFile(`${SECRET}\n`);
    expect(await getToken({ ...options, env })).toEqual({ token: SECRET, source: source as "env" | "file" });
  });

  test("the env var wins over the file, as in the CLI", async () => {
    const env = { HOME: tempDir(), TOKENCTL_TOKEN: "from-env", TOKENCTL_TOKEN_FILE: tokenFile("from-file") };
    expect(await getToken({ env })).toEqual({ token: "from-env", source: "env" });
    expect(await getToken({ env, file: tokenFile("from-option") })).toEqual({ token: "from-env", source: "env" });
    expect(await getToken({ env: { HOME: env.HOME }, file: tokenFile("from-option") })).toEqual({ token: "from-option", source: "file" });
  });

  test("none: a NotFoundError with exitCode 3 naming what was tried", async () => {
    const err = await getToken({ env: { HOME: tempDir() } }).catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toBeInstanceOf(TokenctlError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain("env TOKENCTL_TOKEN: not set");
  });

  test("a value that cannot be a token, or an unsafe file: exit 2, the value never quoted", async () => {
    const bad = await getToken({ env: { HOME: tempDir(), TOKENCTL_TOKEN: `${SECRET} two` } }).catch((e) => e);
    expect(bad).toBeInstanceOf(UsageError);
    expect(bad.exitCode).toBe(2);
    expect(bad.message).not.toContain(SECRET);
    const open = await getToken({ env: { HOME: tempDir() }, file: tokenFile(SECRET, 0o644) }).catch((e) => e);
    expect(open).toBeInstanceOf(InsecureFileError);
    expect(open.exitCode).toBe(2);
    expect(open.message).not.toContain(SECRET);
  });
});

const running: DaemonHandle[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop();
});

async function daemon() {
  const dir = tempDir();
  const ext = createSessionExtension({ store: fileRegistryStore(join(dir, "state", "sessions.json")), saveDelayMs: 0 });
  const d = await startDaemon({ socketPath: join(dir, "run", "s.sock"), tokenFile: join(dir, "run", "daemon.token"), extensions: [ext] });
  running.push(d);
  return d;
}

/** Register a session through the daemon token; returns the token file a child would get. */
async function registerSession(d: DaemonHandle, scope = "lib") {
  const minted = mintSessionFile({ dir: tempDir() });
  const admin = await connectDaemon({ socket: d.socketPath, tokenFile: d.tokenFile });
  try {
    const r = await admin.request({ type: "session.register", token: minted.token, scope, pid: process.pid, cwd: "/w" });
    expect(r.type).not.toBe("error");
    return { file: minted.file, session: r.session as { id: string; scope: string } };
  } finally {
    admin.close();
  }
}

describe("connectDaemon", () => {
  test("finds the socket and token file from the environment; request resolves to the reply", async () => {
    const d = await daemon();
    const c = await connectDaemon({ env: { HOME: tempDir(), TOKENCTL_SOCKET: d.socketPath, TOKENCTL_DAEMON_TOKEN_FILE: d.tokenFile } });
    try {
      expect(c.session).toBeUndefined();
      expect(await c.request({ type: "ping" })).toEqual({ type: "pong", id: expect.any(Number) });
      // An error is a reply too, not a rejection.
      expect((await c.request({ type: "no.such.request" })).type).toBe("error");
    } finally {
      c.close();
    }
    expect(await c.request({ type: "ping" }).catch((e) => e)).toBeInstanceOf(UnavailableError);
  });

  test("subscribe passes events to onEvent until stopped", async () => {
    const d = await daemon();
    const c = await connectDaemon({ socket: d.socketPath, tokenFile: d.tokenFile });
    try {
      const events: DaemonEvent[] = [];
      const stop = await c.subscribe(["t"], (e) => events.push(e));
      expect(d.publish("t", { n: 1 })).toBe(1);
      expect(d.publish("other", { n: 0 })).toBe(0);
      await Bun.sleep(50);
      expect(events).toEqual([{ topic: "t", data: { n: 1 } }]);
      stop();
      d.publish("t", { n: 2 });
      await c.request({ type: "ping" }); // the event, if sent, arrives before this reply
      expect(events).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  test("with TOKENCTL_SESSION_TOKEN_FILE it authenticates as that session", async () => {
    const d = await daemon();
    const { file, session } = await registerSession(d);
    const c = await connectDaemon({ env: { HOME: tempDir(), TOKENCTL_SOCKET: d.socketPath, TOKENCTL_SESSION_TOKEN_FILE: file } });
    try {
      expect(c.session?.id).toBe(session.id);
      const list = await c.request({ type: "session.list" });
      expect(list.scope).toBe("lib");
    } finally {
      c.close();
    }
  });

  test("a wrong daemon token is refused (exit 4); no daemon is exit 5", async () => {
    const d = await daemon();
    const wrong = tokenFile("0".repeat(64));
    const refused = await connectDaemon({ socket: d.socketPath, tokenFile: wrong }).catch((e) => e);
    expect(refused).toBeInstanceOf(AuthRefusedError);
    expect(refused.exitCode).toBe(4);
    const none = await connectDaemon({ socket: join(tempDir(), "none.sock"), tokenFile: wrong }).catch((e) => e);
    expect(none).toBeInstanceOf(UnavailableError);
    expect(none.exitCode).toBe(5);
  });
});

describe("whoami", () => {
  test("this process's session record", async () => {
    const d = await daemon();
    const { file, session } = await registerSession(d, "ci");
    const me = await whoami({ env: { HOME: tempDir(), TOKENCTL_SESSION_TOKEN_FILE: file }, socket: d.socketPath });
    expect(me).toMatchObject({ id: session.id, scope: "ci", pid: process.pid, cwd: "/w" });
  });

  test("no session token is exit 3; a token the daemon does not know is exit 4", async () => {
    const d = await daemon();
    const none = await whoami({ env: { HOME: tempDir() }, socket: d.socketPath }).catch((e) => e);
    expect(none).toBeInstanceOf(NotFoundError);
    expect(none.exitCode).toBe(3);
    const unknown = await whoami({ env: { HOME: tempDir(), TOKENCTL_SESSION_TOKEN: mintToken() }, socket: d.socketPath }).catch((e) => e);
    expect(unknown).toBeInstanceOf(AuthRefusedError);
    expect(unknown.exitCode).toBe(4);
  });
});

describe("getAccessToken", () => {
  const saved: Record<string, string | undefined> = {};
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  });
  /** getAccessToken reads process.env, like the CLI: point it at a temp config and state. */
  function useEnv(vars: Record<string, string>) {
    for (const [k, v] of Object.entries(vars)) {
      saved[k] ??= process.env[k];
      process.env[k] = v;
    }
  }

  test("a fresh token from the profile's file store, without a daemon", async () => {
    const home = tempDir();
    const store = join(home, "creds", "oauth.json");
    mkdirSync(join(home, "creds"), { mode: 0o700 });
    const expiresAt = Date.now() + 3_600_000;
    writeFileSync(store, JSON.stringify({ agent: { accessToken: "at-LIBRARY", expiresAt, scopes: ["read"] } }), { mode: 0o600 });
    mkdirSync(join(home, "config", "tokenctl"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "config", "tokenctl", "config.json"), JSON.stringify({ oauth: { profiles: { work: { issuer: "https://auth.example.com", clientId: "c", store: `file:${store}#agent` } } } }));
    useEnv({ XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state"), TOKENCTL_SOCKET: join(home, "no-daemon.sock") });
    const got = await getAccessToken({ profile: "work", minValidMs: 60_000 });
    expect(got).toMatchObject({ accessToken: "at-LIBRARY", expiresAt, scopes: ["read"] });
    expect(got.source).not.toBe("daemon");
  });

  test("an expired token is refreshed in this process, against a real authorization server", async () => {
    const oidc = await startOidc();
    try {
      const home = tempDir();
      mkdirSync(join(home, "creds"), { mode: 0o700 });
      const store = join(home, "creds", "oauth.json");
      const settings = { issuer: oidc.issuer, clientId: CLIENT_ID, scopes: ["openid", "offline_access"], store: `file:${store}` };
      const { grant } = await loginGrant(oidc, resolveProfile({ profile: "work", issuer: oidc.issuer, clientId: CLIENT_ID, scope: "openid offline_access" }, {}));
      expect(grant.refreshToken).toBeString();
      writeFileSync(store, JSON.stringify({ accessToken: grant.accessToken, refreshToken: grant.refreshToken, expiresAt: Date.now() - 1000, scopes: ["openid", "offline_access"] }), { mode: 0o600 });
      mkdirSync(join(home, "config", "tokenctl"), { recursive: true, mode: 0o700 });
      writeFileSync(join(home, "config", "tokenctl", "config.json"), JSON.stringify({ oauth: { profiles: { work: settings } } }));
      useEnv({ XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state"), TOKENCTL_SOCKET: join(home, "no-daemon.sock") });
      const before = oidc.counts.refresh;
      const got = await getAccessToken({ profile: "work" });
      expect(oidc.counts.refresh - before).toBe(1);
      expect(got.accessToken).not.toBe(grant.accessToken);
      expect(got.expiresAt).toBeGreaterThan(Date.now());
      expect(JSON.parse(readFileSync(store, "utf8")).accessToken).toBe(got.accessToken);
    } finally {
      await oidc.close();
    }
  });

  test("no credential for the profile is exit 3", async () => {
    const home = tempDir();
    useEnv({ XDG_CONFIG_HOME: join(home, "config"), XDG_STATE_HOME: join(home, "state"), TOKENCTL_SOCKET: join(home, "no-daemon.sock") });
    const err = await getAccessToken({ profile: "none" }).catch((e) => e);
    expect(err).toBeInstanceOf(TokenctlError);
    expect(err.exitCode).toBe(3);
  });
});

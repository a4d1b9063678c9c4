/**
 * Login: what it asks for (scopes, prompt, parameters), the loopback listener against forged
 * callbacks, the advice when no refresh token came, the browser commands, and saving the profile.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

// Real servers and processes on a shared, loaded machine: allow for it (speed is benchmarked, not asserted).
setDefaultTimeout(30_000);
import { readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CLIENT_ID, startOidc, type OidcServer } from "../support/oidc.ts";
import { tempDir } from "../support/tmp.ts";
import { parseProfiles, resolveProfile, saveProfile } from "../../src/oauth/config.ts";
import { authorizationParams, login, loginScopes, noRefreshAdvice } from "../../src/oauth/login.ts";
import { browserCommands, noDisplayReason } from "../../src/oauth/browser.ts";
import { resolveServer, type Server } from "../../src/oauth/protocol.ts";
import { ExitCode } from "../../src/errors.ts";

const as = (scopes_supported?: string[]) => ({ as: { issuer: "https://a.example", ...(scopes_supported ? { scopes_supported } : {}) } }) as Pick<Server, "as">;

describe("what a login asks for", () => {
  test.each([
    ["profile scopes win", ["repo"], ["openid", "offline_access"], ["repo"]],
    ["none named, discovery lists offline_access", [], ["openid", "offline_access", "email"], ["openid", "offline_access"]],
    ["none named, offline_access without openid (plain OAuth)", [], ["offline_access", "read"], ["offline_access"]],
    ["none named, no offline_access listed", [], ["openid", "email"], []],
    ["none named, no scopes_supported", [], undefined, []],
  ] as const)("%s", (_, scopes, supported, want) => {
    expect(loginScopes({ scopes: [...scopes] }, as(supported ? [...supported] : undefined))).toEqual([...want]);
  });

  test.each([
    ["offline_access: prompt=consent", {}, ["openid", "offline_access"], { prompt: "consent" }],
    ["no offline_access: no prompt", {}, ["openid"], {}],
    ["Google: access_type=offline added", { authorizationParams: { access_type: "offline" } }, ["openid", "offline_access"], { prompt: "consent", access_type: "offline" }],
    ["profile prompt overrides", { prompt: "select_account consent" }, ["offline_access"], { prompt: "select_account consent" }],
    ["authorizationParams prompt overrides ours, profile prompt overrides both", { authorizationParams: { prompt: "login" }, prompt: "none" }, ["offline_access"], { prompt: "none" }],
  ] as const)("%s", (_, profile, scopes, want) => {
    expect(authorizationParams(profile as never, [...scopes])).toEqual(want as Record<string, string>);
  });
});

describe("no refresh token", () => {
  const record = { accessToken: "a", expiresAt: Date.parse("2030-01-01T00:00:00Z"), scopes: ["openid"] };
  test("refreshable: no advice", () => {
    expect(noRefreshAdvice({ ...record, refreshToken: "r" }, ["openid", "offline_access"], { ...as(["offline_access"]), profile: "default" })).toBeUndefined();
  });
  test("offline_access not asked for: the command that asks for it", () => {
    const advice = noRefreshAdvice(record, ["openid"], { ...as(["openid", "offline_access"]), profile: "work" })!;
    expect(advice).toContain("cannot be refreshed");
    expect(advice).toContain("2030-01-01T00:00:00.000Z");
    expect(advice).toContain("tokenctl oauth login --profile work --scope 'openid offline_access'");
    expect(advice).toContain("the server supports it");
  });
  test("offline_access asked for and dropped: the provider's own parameter", () => {
    const advice = noRefreshAdvice(record, ["openid", "offline_access"], { ...as(["openid", "offline_access"]), profile: "default" })!;
    expect(advice).toContain("authorizationParams");
    expect(advice).toContain("docs/oauth-providers.md");
  });
});

describe("browser commands", () => {
  const url = "http://127.0.0.1:1/auth?x=1";
  test.each([
    ["no BROWSER, Linux", {}, "linux", [["xdg-open", url]]],
    ["no BROWSER, macOS", {}, "darwin", [["open", url]]],
    ["no BROWSER, Windows: none", {}, "win32", []],
    ["BROWSER first", { BROWSER: "firefox" }, "linux", [["firefox", url], ["xdg-open", url]]],
    ["BROWSER list, %s substituted, arguments kept", { BROWSER: "w3m:lynx -dump %s:" }, "linux", [["w3m", url], ["lynx", "-dump", url], ["xdg-open", url]]],
    ["%s inside a word", { BROWSER: "open-url --target=%s" }, "darwin", [["open-url", `--target=${url}`], ["open", url]]],
  ] as const)("%s", (_, env, platform, want) => {
    expect(browserCommands(url, env as Record<string, string>, platform)).toEqual(want.map((c) => [...c]));
  });

  test.each([
    ["Linux with DISPLAY", { DISPLAY: ":0" }, "linux", false],
    ["Linux with WAYLAND_DISPLAY", { WAYLAND_DISPLAY: "wayland-0" }, "linux", false],
    ["Linux without either", {}, "linux", true],
    ["SSH session, even with DISPLAY (X forwarding)", { DISPLAY: "localhost:10.0", SSH_CONNECTION: "10.0.0.1 5000 10.0.0.2 22" }, "linux", true],
    ["macOS locally", {}, "darwin", false],
    ["macOS over SSH", { SSH_CONNECTION: "x" }, "darwin", true],
  ] as const)("no display: %s", (_, env, platform, none) => {
    expect(noDisplayReason(env as Record<string, string>, platform) !== undefined).toBe(none);
  });
});

describe("saveProfile", () => {
  const setup = () => {
    const dir = join(tempDir(), "config", "tokenctl");
    return { dir, path: join(dir, "config.json") };
  };

  test("creates config.json 0600 in a 0700 dir; the profile resolves from it", async () => {
    const { dir, path } = setup();
    const changed = await saveProfile(path, "work", { issuer: "https://auth.example.com", clientId: "cli", scopes: ["openid", "offline_access"] });
    expect(changed).toEqual(["issuer", "clientId", "scopes"]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const p = resolveProfile({ profile: "work" }, { XDG_CONFIG_HOME: join(dir, "..") });
    expect(p).toMatchObject({ issuer: "https://auth.example.com", clientId: "cli", scopes: ["openid", "offline_access"] });
  });

  test("updates one profile: other profiles, fields and top-level members keep their values", async () => {
    const { dir, path } = setup();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const before = `{\n  "daemon": {"n": 1.50},\n  "oauth": {\n    "profiles": {\n      "other": {"clientId": "o", "tokenEndpoint": "https://o.example/token"},\n      "work": {"clientId": "old", "authorizationParams": {"audience": "api"}}\n    }\n  }\n}\n`;
    writeFileSync(path, before, { mode: 0o600 });
    expect(await saveProfile(path, "work", { clientId: "new", store: "file" })).toEqual(["clientId", "store"]);
    const text = readFileSync(path, "utf8");
    expect(text).toContain(`"daemon": {"n": 1.50}`);
    const profiles = parseProfiles(text, path);
    expect(profiles.other).toEqual({ clientId: "o", tokenEndpoint: "https://o.example/token" });
    expect(profiles.work).toMatchObject({ clientId: "new", store: "file", authorizationParams: { audience: "api" } });
  });

  test("nothing changed: nothing written", async () => {
    const { path } = setup();
    await saveProfile(path, "default", { clientId: "c" });
    const mtime = statSync(path).mtimeMs;
    await sleep(20);
    expect(await saveProfile(path, "default", { clientId: "c" })).toEqual([]);
    expect(statSync(path).mtimeMs).toBe(mtime);
  });

  test("a config.json that is not valid is reported and never overwritten", async () => {
    const { dir, path } = setup();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, "{ not json", { mode: 0o600 });
    await expect(saveProfile(path, "default", { clientId: "c" })).rejects.toMatchObject({ exitCode: ExitCode.usage });
    expect(readFileSync(path, "utf8")).toBe("{ not json");
  });

  test('a profile named "__proto__" is a profile', async () => {
    const { path } = setup();
    await saveProfile(path, "__proto__", { clientId: "p" });
    expect(Object.hasOwn(parseProfiles(readFileSync(path, "utf8"), path), "__proto__")).toBe(true);
  });
});

describe("the loopback listener against oidc-provider", () => {
  let oidc: OidcServer;
  let server: Server;
  beforeAll(async () => {
    oidc = await startOidc();
    server = await resolveServer(resolveProfile({ issuer: oidc.issuer, clientId: CLIENT_ID, store: "file" }, {}, () => ({})), { need: "authorize" });
  });
  afterAll(() => oidc.close());

  test("no redirect in time: exit 5, the hint names the profile the login is for", async () => {
    const err = await login({ server: { ...server, profile: "work" }, scopes: [], timeoutMs: 200, openUrl: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.unavailable, hint: expect.stringContaining("Run tokenctl oauth login --profile work again") });
  });

  test("requests without this login's state get 400 and change nothing; the real redirect completes it", async () => {
    const strays: string[] = [];
    let authUrl = "";
    const record = await login({
      server,
      scopes: ["openid", "offline_access"],
      params: { prompt: "consent" },
      timeoutMs: 20_000,
      onStray: (w) => strays.push(w),
      openUrl: async (url) => {
        authUrl = url;
        const redirect = new URL(new URL(url).searchParams.get("redirect_uri")!);
        const forged = (search: string, path = redirect.pathname) => fetch(new URL(`${path}?${search}`, redirect));
        const missing = await forged("code=forged");
        const wrong = await forged(`code=forged&state=${"A".repeat(43)}`);
        const denied = await forged("error=access_denied&state=nope");
        const elsewhere = await forged("x=1", "/other");
        expect([missing.status, wrong.status, denied.status, elsewhere.status]).toEqual([400, 400, 400, 404]);
        expect(await wrong.text()).toContain("still waiting");
        const page = await oidc.driveLogin(url);
        expect(await page.text()).toContain("Logged in");
        // After the login: a late request is told so.
        const late = await forged(`code=x&state=${new URL(url).searchParams.get("state")}`);
        expect([late.status, await late.text()]).toEqual([400, expect.stringContaining("already received its answer")]);
      },
    });
    expect(strays).toEqual(["no state", "wrong state", "wrong state"]);
    expect(new URL(authUrl).searchParams.get("prompt")).toBe("consent");
    expect(record.refreshToken).toBeString();
    expect(record.scopes).toContain("offline_access");
  });

  test("no redirect within the timeout: exit 5, the listener closed", async () => {
    let port = 0;
    const err = await login({
      server,
      scopes: [],
      timeoutMs: 300,
      openUrl: (url) => {
        port = Number(new URL(new URL(url).searchParams.get("redirect_uri")!).port);
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.unavailable });
    await expect(fetch(`http://127.0.0.1:${port}/callback`)).rejects.toThrow();
  });

  test("a denial with this login's state: exit 4, and the page escapes what the server sent", async () => {
    const err = await login({
      server,
      scopes: [],
      timeoutMs: 10_000,
      openUrl: async (url) => {
        const redirect = new URL(new URL(url).searchParams.get("redirect_uri")!);
        const state = new URL(url).searchParams.get("state")!;
        redirect.search = new URLSearchParams({ error: "access_denied", error_description: "<script>x</script>\u001b[2J", state, iss: oidc.issuer }).toString();
        const page = await (await fetch(redirect)).text();
        expect(page).not.toContain("<script>");
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.authRefused });
    expect((err as Error).message).toContain("access_denied");
    expect((err as Error).message).not.toContain("\u001b");
  });
});

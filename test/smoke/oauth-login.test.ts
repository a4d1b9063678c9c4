/**
 * `tokenctl oauth login` through the compiled binary against oidc-provider with its production
 * defaults: a login that yields a refresh token and one that does not, the profile it saves (so
 * later commands and the daemon need no flags), the device flow (approve, deny, expiry,
 * --timeout), a forged callback followed by the real one, $BROWSER, and the --device suggestion.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

// Real servers and processes on a shared, loaded machine: allow for it (speed is benchmarked, not asserted).
setDefaultTimeout(30_000);
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBin, spawnDaemon } from "../support/bin.ts";
import { deviceLoginWithBinary, loginWithBinary, playDevice } from "../support/login.ts";
import { CLIENT_ID, startOidc, type OidcServer } from "../support/oidc.ts";
import { tempDir } from "../support/tmp.ts";

let oidc: OidcServer;
let device: OidcServer;
beforeAll(async () => {
  oidc = await startOidc();
  // Keycloak lets a realm set its device polling interval; 1 s keeps these tests short.
  device = await startOidc({ deviceInterval: 1 });
});
afterAll(async () => {
  await oidc.close();
  await device.close();
});

function workspace(server = oidc) {
  const dir = tempDir();
  const file = join(dir, "credentials.json");
  const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state") };
  const config = join(dir, "config", "tokenctl", "config.json");
  const flags = ["--issuer", server.issuer, "--client-id", CLIENT_ID, "--store", `file:${file}#agent`];
  return { dir, file, env, config, flags, record: () => JSON.parse(readFileSync(file, "utf8")).agent };
}

describe("browser login", () => {
  test("with a refresh token by default: saved profile, then token/status/exec/daemon/logout with no flags", async () => {
    const w = workspace();
    const run = await loginWithBinary(oidc, [...w.flags, "--json"], w.env);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ profile: "default", refreshable: true, scopes: ["openid", "offline_access"], savedInProfile: ["issuer", "clientId", "store"] });
    expect(w.record().refreshToken).toBeString();
    expect(run.stderr).toContain(`Saved issuer, clientId, store in profile "default" of ${w.config}`);
    expect(run.stderr).not.toContain("cannot be refreshed");
    // No display in the test's env and a device endpoint at the server: --device is suggested.
    expect(run.stderr).toContain("tokenctl oauth login --device");
    const config = JSON.parse(readFileSync(w.config, "utf8"));
    expect(config.oauth.profiles.default).toEqual({ issuer: oidc.issuer, clientId: CLIENT_ID, store: `file:${w.file}#agent` });
    expect(statSync(w.config).mode & 0o777).toBe(0o600);
    expect(readFileSync(w.config, "utf8")).not.toContain(w.record().accessToken);

    const token = await runBin(["oauth", "token"], { env: w.env });
    expect(token).toMatchObject({ code: 0, stdout: `${w.record().accessToken}\n` });
    const status = await runBin(["oauth", "status", "--json"], { env: w.env });
    expect(JSON.parse(status.stdout)).toMatchObject({ loggedIn: true, refreshable: true });
    const exec = await runBin(["exec", "--oauth", "default", "--", "sh", "-c", 'test -n "$OAUTH_ACCESS_TOKEN"'], { env: w.env });
    expect(exec.code).toBe(0);

    const runtime = tempDir();
    const denv = { ...w.env, XDG_RUNTIME_DIR: runtime };
    const { proc } = await spawnDaemon([], denv);
    try {
      const viaDaemon = await runBin(["oauth", "token", "--json"], { env: denv });
      expect(JSON.parse(viaDaemon.stdout)).toMatchObject({ source: "daemon", accessToken: w.record().accessToken });
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }

    const logout = await runBin(["oauth", "logout"], { env: w.env });
    expect(logout.code).toBe(0);
    expect(logout.stderr).toContain("revoked at the server");
    expect(w.record()).toBeUndefined();
  });

  test("without a refresh token (the profile's scopes omit offline_access): WARN with the fix, refreshable false", async () => {
    const w = workspace();
    const run = await loginWithBinary(oidc, [...w.flags, "--scope", "openid", "--json"], w.env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ refreshable: false, scopes: ["openid"] });
    expect(run.stderr).toContain("cannot be refreshed");
    expect(run.stderr).toContain("tokenctl oauth login --scope 'openid offline_access'");
    expect(w.record().refreshToken).toBeUndefined();
    // The suggested command works (the profile remembers the rest) and yields a refreshable credential.
    const again = await loginWithBinary(oidc, ["--scope", "openid offline_access", "--json"], w.env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ refreshable: true });
  });

  test("a forged callback gets 400 and is ignored; the real redirect then completes the login", async () => {
    const w = workspace();
    let forged: Response | undefined;
    const run = await loginWithBinary(oidc, w.flags, w.env, async (url) => {
      const redirect = new URL(new URL(url).searchParams.get("redirect_uri")!);
      redirect.search = "code=FORGED-CODE&state=FORGED-STATE";
      forged = await fetch(redirect);
      return oidc.driveLogin(url);
    });
    expect(forged!.status).toBe(400);
    const page = await forged!.text();
    expect(page).toContain("still waiting");
    expect(page).not.toContain("FORGED");
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("Ignored a request to the login listener (wrong state)");
    expect(run.stderr).not.toContain("FORGED");
    expect(w.record().refreshToken).toBeString();
  });

  test("$BROWSER is started before xdg-open, with %s replaced by the address", async () => {
    const w = workspace();
    const bin = join(w.dir, "bin");
    mkdirSync(bin);
    const seen = join(w.dir, "seen");
    for (const name of ["my-browser", "xdg-open"]) {
      writeFileSync(join(bin, name), `#!/bin/sh\nprintf '%s\\n' "${name}" "$@" >> ${seen}\n`);
      chmodSync(join(bin, name), 0o755);
    }
    const env = { ...w.env, PATH: `${bin}:${process.env.PATH}`, BROWSER: "no-such-browser:my-browser --new-tab %s" };
    const run = await loginWithBinary(oidc, w.flags, env, undefined, true);
    expect(run.code).toBe(0);
    for (let i = 0; i < 50 && !existsSync(seen); i++) await new Promise((r) => setTimeout(r, 20));
    const lines = readFileSync(seen, "utf8").trim().split("\n");
    expect(lines.slice(0, 2)).toEqual(["my-browser", "--new-tab"]);
    expect(lines[2]).toStartWith(`${oidc.issuer}/auth?`);
    expect(lines).not.toContain("xdg-open");
  });
});

describe("device login", () => {
  test("approved: the address and the code each on their own line, then a refreshable credential and a saved profile", async () => {
    const w = workspace(device);
    const run = await deviceLoginWithBinary(device, [...w.flags, "--json"], w.env);
    expect(run.code).toBe(0);
    expect(run.page).toContain("Device signed in");
    const lines = run.stderr.split("\n").map((l) => l.trim());
    const uri = lines.find((l) => l.startsWith(`${device.issuer}/device?user_code=`));
    expect(uri).toBeDefined();
    const code = decodeURIComponent(new URL(uri!).searchParams.get("user_code")!);
    expect(lines).toContain(code);
    expect(JSON.parse(run.stdout)).toMatchObject({ refreshable: true, scopes: ["openid", "offline_access"] });
    expect(w.record().refreshToken).toBeString();
    expect(JSON.parse(readFileSync(w.config, "utf8")).oauth.profiles.default.clientId).toBe(CLIENT_ID);
  });

  test("denied: exit 4", async () => {
    const w = workspace(device);
    const run = await deviceLoginWithBinary(device, w.flags, w.env, (uri) => playDevice(device, uri, { deny: true }));
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("denied");
    expect(run.stderr).toContain(`Fix: Run tokenctl oauth login --issuer ${device.issuer}`);
    expect(existsSync(w.file)).toBe(false);
  });

  test("expired before approval (2 s device codes): exit 4 with the fix", async () => {
    const short = await startOidc({ deviceCodeTtl: 2, deviceInterval: 1 });
    try {
      const w = workspace(short);
      const run = await deviceLoginWithBinary(short, w.flags, w.env, async () => "not approved");
      expect(run.code).toBe(4);
      expect(run.stderr).toContain("expired");
      expect(run.stderr).toMatch(/Fix: .*--device again, and enter the new code within 2 s/);
    } finally {
      await short.close();
    }
  });

  test("no answer within --timeout: exit 5", async () => {
    const w = workspace(device);
    const run = await deviceLoginWithBinary(device, [...w.flags, "--timeout", "2s"], w.env, async () => "not approved");
    expect(run.code).toBe(5);
    expect(run.stderr).toContain("No answer to the device login within 2 s");
  });
});

describe("a server that does not answer", () => {
  // Issue 13: exit 5 ("a needed service did not answer"), naming the issuer, with a Fix line that runs.
  test("discovery at a closed port: exit 5, the issuer and the retry named, nothing saved", async () => {
    const w = workspace();
    const { createServer } = await import("node:net");
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const issuer = `http://127.0.0.1:${port}`;
    const run = await runBin(["oauth", "login", "--issuer", issuer, "--client-id", "x", "--no-browser"], { env: w.env });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`discovery at ${issuer}/ failed`);
    expect(run.stderr).toContain(`curl -sS ${issuer}/.well-known/openid-configuration`);
    expect(run.stderr).toContain(`then run tokenctl oauth login --issuer ${issuer} --client-id x again`);
    expect(existsSync(w.config)).toBe(false);
    const secret = await runBin(["oauth", "login", "--issuer", `http://me:hunter2@127.0.0.1:${port}`, "--client-id", "x", "--no-browser"], { env: w.env });
    expect(secret.code).toBe(5);
    expect(secret.stderr).toContain(`discovery at ${issuer}/ failed`);
    expect(secret.stderr).not.toContain("hunter2");
    const json = await runBin(["oauth", "login", "--profile", "work", "--issuer", issuer, "--client-id", "x", "--no-browser", "--json"], { env: w.env });
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { kind: "unavailable", hint: expect.stringContaining("tokenctl oauth login --profile work --issuer") } });
  });
});

/**
 * The binary with the default `keychain` store: against a real Secret Service when one works here
 * (skipped visibly otherwise), and against keyrings that fail or hang, where it must fall back to
 * the file store with a warning instead of hanging.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { unlinkSync } from "node:fs";
import { join } from "node:path";
import { runBin } from "../support/bin.ts";
import { announceSkip, keychainUnavailableReason } from "../support/keychain.ts";
import { loginWithBinary } from "../support/login.ts";
import { CLIENT_ID, startOidc, type OidcServer } from "../support/oidc.ts";
import { tempDir } from "../support/tmp.ts";


const reason = await keychainUnavailableReason();
announceSkip(reason, "test/smoke/oauth-keychain.test.ts");

let oidc: OidcServer;
beforeAll(async () => {
  oidc = await startOidc();
});
afterAll(() => oidc.close());

function workspace(dbus: string | undefined) {
  const dir = tempDir();
  const env: Record<string, string> = { HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state") };
  if (dbus) env.DBUS_SESSION_BUS_ADDRESS = dbus;
  const profile = `smoke-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const args = ["--profile", profile, "--issuer", oidc.issuer, "--client-id", CLIENT_ID, "--scope", "openid offline_access"];
  return { dir, env, args, profile, fileStore: join(dir, "config", "tokenctl", "credentials.json") };
}

describe("keychain store through the binary", () => {
  test.skipIf(reason !== undefined)(
    `login stores in the Secret Service; token and logout use it${reason ? ` [SKIPPED: no working keychain: ${reason}]` : ""}`,
    async () => {
      const w = workspace(process.env.DBUS_SESSION_BUS_ADDRESS);
      const run = await loginWithBinary(oidc, w.args, w.env);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`keychain item tokenctl/oauth:${w.profile}`);
      expect(await Bun.file(w.fileStore).exists()).toBe(false);
      const stored = JSON.parse((await Bun.secrets.get({ service: "tokenctl", name: `oauth:${w.profile}` }))!);
      const tok = await runBin(["oauth", "token", ...w.args], { env: w.env });
      expect(tok).toMatchObject({ code: 0, stdout: `${stored.accessToken}\n` });
      const out = await runBin(["oauth", "logout", ...w.args], { env: w.env });
      expect(out.code).toBe(0);
      expect(await Bun.secrets.get({ service: "tokenctl", name: `oauth:${w.profile}` })).toBeNull();
    },
  );

  test("no D-Bus at all: falls back to the file store with a warning", async () => {
    const w = workspace("unix:path=/nonexistent/bus");
    const run = await loginWithBinary(oidc, w.args, w.env);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("The OS keychain failed a probe");
    expect(run.stderr).toContain(`Using the file store ${"file " + w.fileStore}#${w.profile}`);
    const tok = await runBin(["oauth", "token", ...w.args], { env: w.env });
    expect(tok.code).toBe(0);
    expect(tok.stdout).toBe(`${(await Bun.file(w.fileStore).json())[w.profile].accessToken}\n`);
    expect(tok.stderr).toBe(""); // the warning is given once, at login, not on every call
  });

  test("a keyring that hangs: the 3 s deadline, then the file store — never a hang", async () => {
    const sock = join(tempDir(), "bus.sock");
    // Accepts the D-Bus connection and never answers, like a Secret Service waiting on an unlock prompt.
    const silent = Bun.listen({ unix: sock, socket: { data() {}, open() {} } });
    try {
      const w = workspace(`unix:path=${sock}`);
      const started = Date.now();
      const run = await loginWithBinary(oidc, w.args, w.env);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain("did not answer a probe within 3000 ms");
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await Bun.file(w.fileStore).exists()).toBe(true);
    } finally {
      silent.stop(true);
      try {
        unlinkSync(sock);
      } catch {}
    }
  });
});

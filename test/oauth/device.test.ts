/**
 * The device authorization grant against oidc-provider: approve, deny, expiry, our --timeout,
 * slow_down and the server's interval, and a server without a device endpoint.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

// Real servers and processes on a shared, loaded machine: allow for it (speed is benchmarked, not asserted).
setDefaultTimeout(30_000);
import { CLIENT_ID, startOidc, type OidcServer } from "../support/oidc.ts";
import { playDevice } from "../support/login.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { DEFAULT_INTERVAL_S, deviceEndpoint, deviceLogin, type DevicePrompt } from "../../src/oauth/device.ts";
import { resolveServer, type Server } from "../../src/oauth/protocol.ts";
import { ExitCode } from "../../src/errors.ts";

const profileOf = (oidc: OidcServer) => resolveProfile({ issuer: oidc.issuer, clientId: CLIENT_ID, store: "file" }, {}, () => ({}));

describe("device login", () => {
  let oidc: OidcServer;
  let server: Server;
  let uri = "";
  beforeAll(async () => {
    // Keycloak lets a realm set its device polling interval; 1 s keeps these tests short.
    oidc = await startOidc({ deviceInterval: 1 });
    server = await resolveServer(profileOf(oidc), { need: "token" });
  });
  afterAll(() => oidc.close());

  test("approved: the complete verification URI and the code are shown, then a refreshable record", async () => {
    const shown: DevicePrompt[] = [];
    const polls = oidc.counts.devicePolls;
    const record = await deviceLogin({
      server,
      scopes: ["openid", "offline_access"],
      timeoutMs: 20_000,
      show: (p) => {
        shown.push(p);
        // The user approves a moment later, on another device.
        setTimeout(() => void playDevice(oidc, p.verificationUri), 1500);
      },
    });
    expect(shown).toHaveLength(1);
    expect(shown[0]!.verificationUri).toStartWith(`${oidc.issuer}/device?user_code=`);
    expect(shown[0]!.verificationUri).toContain(encodeURIComponent(shown[0]!.userCode).replace(/%2D/g, "-"));
    expect(shown[0]!.expiresInS).toBe(600);
    expect(record.refreshToken).toBeString();
    expect(record.scopes).toContain("offline_access");
    expect(oidc.counts.devicePolls - polls).toBeGreaterThanOrEqual(2); // pending first, then the tokens
  });

  test("denied: exit 4 with the fix", async () => {
    const err = await deviceLogin({
      server,
      scopes: ["openid"],
      timeoutMs: 20_000,
      show: (p) => void playDevice(oidc, p.verificationUri, { deny: true }),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.authRefused, hint: expect.stringContaining("--device again") });
    expect((err as Error).message).toContain("denied");
  });

  test("no answer within --timeout: exit 5, after waiting the timeout out (never polling faster)", async () => {
    const t0 = performance.now();
    const err = await deviceLogin({ server, scopes: [], timeoutMs: 2500, show: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.unavailable, hint: expect.stringContaining("--timeout") });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2400);
  });

  test("the hints name the profile the login is for", async () => {
    const err = await deviceLogin({ server: { ...server, profile: "work" }, scopes: [], timeoutMs: 1000, show: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.unavailable, hint: expect.stringContaining("Run tokenctl oauth login --profile work --device again") });
  });

  test("slow_down adds 5 s to the interval, for this and every later poll (injected clock)", async () => {
    const slow = await startOidc({ slowDownPolls: 2 }); // GitHub answers slow_down when polled too fast
    try {
      const srv = await resolveServer(profileOf(slow), { need: "token" });
      let clock = Date.now();
      const waits: number[] = [];
      let approve: Promise<string> | undefined;
      const record = await deviceLogin({
        server: srv,
        scopes: ["openid", "offline_access"],
        timeoutMs: 120_000,
        now: () => clock,
        sleep: async (ms) => {
          waits.push(ms);
          clock += ms;
          if (waits.length === 3) await (approve ??= playDevice(slow, uri));
        },
        show: (p) => {
          uri = p.verificationUri;
        },
      });
      expect(record.accessToken).toBeString();
      // No interval from oidc-provider: RFC 8628's 5 s, then +5 s at each slow_down.
      expect(waits).toEqual([DEFAULT_INTERVAL_S * 1000, 10_000, 15_000]);
    } finally {
      await slow.close();
    }
  });
});

test("GitHub's way: polling errors with HTTP 200 (pending, slow_down, then denial) are errors all the same", async () => {
  const gh = await startOidc({ deviceErrorsAs200: true, slowDownPolls: 1 });
  try {
    const server = await resolveServer(profileOf(gh), { need: "token" });
    let clock = Date.now();
    const waits: number[] = [];
    let uri = "";
    const err = await deviceLogin({
      server,
      scopes: [],
      timeoutMs: 120_000,
      now: () => clock,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
        if (waits.length === 3) await playDevice(gh, uri, { deny: true });
      },
      show: (p) => {
        uri = p.verificationUri;
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.authRefused });
    expect((err as Error).message).toContain("denied");
    expect(waits).toEqual([5000, 10_000, 10_000]); // slow_down, then pending at the new interval
  } finally {
    await gh.close();
  }
});

test("an expired device code: exit 4 saying it expired, with the fix", async () => {
  const oidc = await startOidc({ deviceCodeTtl: 2, deviceInterval: 1 });
  try {
    const server = await resolveServer(profileOf(oidc), { need: "token" });
    const err = await deviceLogin({ server, scopes: [], timeoutMs: 20_000, show: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.authRefused, hint: expect.stringContaining("within 2 s") });
    expect((err as Error).message).toContain("expired");
  } finally {
    await oidc.close();
  }
});

test("a server without a device endpoint: a usage error naming the profile field", async () => {
  const server = { as: { issuer: "https://a.example", token_endpoint: "https://a.example/token" } } as Server;
  expect(() => deviceEndpoint({ name: "gh" }, server)).toThrow(/no device authorization endpoint/);
  expect(deviceEndpoint({ name: "gh", deviceAuthorizationEndpoint: "https://github.com/login/device/code" }, server)).toBe("https://github.com/login/device/code");
  expect(() => deviceEndpoint({ name: "gh", deviceAuthorizationEndpoint: "http://evil.example/device" }, server)).toThrow(/loopback/);
});

test("an echoing device endpoint: its text is shown scrubbed and capped", async () => {
  const oidc = await startOidc({ echoErrors: true });
  try {
    const server = await resolveServer(profileOf(oidc), { need: "token" });
    const wrong = { ...server, client: { client_id: "unknown-client" } };
    const err = await deviceLogin({ server: wrong, scopes: ["x".repeat(600)], timeoutMs: 5000, show: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: ExitCode.authRefused });
    // The echo is there (this server does echo), but cut short.
    expect((err as Error).message).toContain("invalid request: scope=xxx");
    expect((err as Error).message).toEndWith("…)");
    expect((err as Error).message.length).toBeLessThan(300);
  } finally {
    await oidc.close();
  }
});

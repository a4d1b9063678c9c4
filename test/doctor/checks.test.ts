/** Doctor's checks over fakes: keychain reasons, daemon, OAuth records, Vault, the path sweep, the whole run. */
import { UntrustedPathError } from "../../src/fs/trust.ts";
import { UntrustedDaemonError } from "../../src/daemon/client.ts";
import { describe, expect, it } from "bun:test";
import { AuthRefusedError, InsecureFileError, UnavailableError } from "../../src/errors.ts";
import { hasFailures, runDoctor, type DoctorDeps } from "../../src/doctor/checks.ts";
import { checkDaemon } from "../../src/doctor/daemon.ts";
import { formatDuration } from "../../src/doctor/deps.ts";
import { checkPaths } from "../../src/doctor/files.ts";
import { checkKeychain, evaluateRecord, keychainReason } from "../../src/doctor/store.ts";
import { checkVault } from "../../src/doctor/vault.ts";
import type { PathStat } from "../../src/doctor/paths.ts";
import { formatTable, summarize } from "../../src/doctor/report.ts";
import { resolveProfile, type ProfileSettings } from "../../src/oauth/config.ts";
import type { OAuthRecord } from "../../src/oauth/record.ts";
import { KeychainUnavailableError, type CredentialStore } from "../../src/oauth/store.ts";

const NOW = Date.UTC(2026, 0, 1);
const ME = 1000;
const MARK_ACCESS = "MARKER-ACCESS-7f3a9c";
const MARK_REFRESH = "MARKER-REFRESH-41bd0e";
const MARK_DAEMON = "MARKER-DAEMON-c0ffee";
const MARK_VAULT = "MARKER-VAULT-5e5e5e";

const profile = (s: ProfileSettings & { name?: string } = {}) => resolveProfile({ profile: s.name ?? "work" }, {}, () => ({ [s.name ?? "work"]: s }));
const record = (o: Partial<OAuthRecord> = {}): OAuthRecord => ({ accessToken: MARK_ACCESS, refreshToken: MARK_REFRESH, expiresAt: NOW + 3600_000, scopes: [], ...o });
const full = { clientId: "c", tokenEndpoint: "https://auth.example/token" };

describe("keychainReason", () => {
  it.each([
    ["The OS keychain did not answer a probe within 3000 ms (locked, or waiting for an unlock prompt?)", { DBUS_SESSION_BUS_ADDRESS: "unix:path=/x" }, /locked/, /--unlock/],
    ["The OS keychain failed a probe: Cannot autolaunch D-Bus without X11 $DISPLAY", {}, /no D-Bus session bus/, /dbus-run-session/],
    ["The OS keychain failed a probe: Could not connect: No such file or directory", { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nope" }, /D-Bus session bus does not answer/, /dbus-run-session/],
    ["The OS keychain failed a probe: libsecret not available", {}, /libsecret is not installed/, /apt-get install libsecret-1-0/],
    ["The OS keychain failed a probe: The name org.freedesktop.secrets was not provided by any .service files", { DBUS_SESSION_BUS_ADDRESS: "unix:path=/x" }, /no Secret Service/, /gnome-keyring-daemon --start/],
  ] as const)("%s", (message, env, reason, fix) => {
    const r = keychainReason(message, env, "linux");
    expect(r.reason).toMatch(reason);
    expect(r.fix).toMatch(fix);
  });

  it("keeps an unknown reason as the keychain said it", () => {
    expect(keychainReason("The OS keychain failed a probe: weird", { DBUS_SESSION_BUS_ADDRESS: "x" }, "darwin")).toEqual({ reason: "weird" });
  });
});

describe("checkKeychain", () => {
  it("ok when the probe answers; warn with reason and fix when not", async () => {
    const ok = await checkKeychain({ env: {}, platform: "linux", probeKeychain: async () => undefined });
    expect(ok).toMatchObject({ usable: true, check: { status: "ok" } });
    const bad = await checkKeychain({
      env: {},
      platform: "linux",
      probeKeychain: async () => new KeychainUnavailableError("The OS keychain failed a probe: Cannot autolaunch D-Bus without X11 $DISPLAY"),
    });
    expect(bad.usable).toBe(false);
    expect(bad.check.status).toBe("warn");
    expect(bad.check.detail).toContain("DBUS_SESSION_BUS_ADDRESS is unset");
    expect(bad.check.fix).toContain("dbus-run-session");
  });
});

describe("evaluateRecord", () => {
  const login = "tokenctl oauth login --profile work";
  it.each([
    ["valid and refreshable", full, record(), "ok", undefined, /valid for 1h 0m; refreshable/],
    ["expired but refreshable", full, record({ expiresAt: NOW - 120_000 }), "ok", undefined, /expired 2m ago; refreshes on next use/],
    ["issuer only (discovery)", { clientId: "c", issuer: "https://auth.example" }, record(), "ok", undefined, /discovery from https:\/\/auth.example/],
    ["credentials in the endpoint URL are not shown", { clientId: "c", tokenEndpoint: "https://user:MARKER@a.example/t" }, record(), "ok", undefined, /token endpoint https:\/\/a.example\/t/],
    ["valid, no refresh token", full, record({ refreshToken: undefined }), "warn", login, /cannot be refreshed \(no refresh token stored\)/],
    ["expired, no refresh token", full, record({ refreshToken: undefined, expiresAt: NOW - 1 }), "fail", login, /expired .* cannot be refreshed/],
    ["expired, no client id", { tokenEndpoint: "https://a.example/t" }, record({ expiresAt: NOW - 1 }), "fail", /clientId/, /no clientId/],
    ["valid, no endpoint", { clientId: "c" }, record(), "warn", /tokenEndpoint/, /neither tokenEndpoint nor issuer/],
    ["not logged in", full, undefined, "warn", login, /not logged in/],
  ] as const)("%s", (_n, settings, rec, status, fix, detail) => {
    const c = evaluateRecord(profile(settings), "file /x#work", rec, NOW);
    expect(c.status).toBe(status);
    if (fix === undefined) expect(c.fix).toBeUndefined();
    else if (typeof fix === "string") expect(c.fix).toBe(fix);
    else expect(c.fix).toMatch(fix);
    expect(c.detail).toMatch(detail);
    expect(JSON.stringify(c)).not.toContain("MARKER");
  });

  it("skips the implicit default profile when nothing is stored", () => {
    expect(evaluateRecord(profile({ name: "default" }), "file /x#default", undefined, NOW, true).status).toBe("skip");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [59_000, "59s"],
    [61_000, "1m"],
    [3_660_000, "1h 1m"],
    [90_000_000, "1d 1h"],
    [-120_000, "2m"],
  ])("%d ms → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});

const sock: PathStat = { type: "socket", mode: 0o600, uid: ME };
const paths = { socketPath: "/r/tokenctl.sock", tokenFile: "/r/daemon.token" };

describe("checkDaemon", () => {
  const client = (status: Record<string, unknown>) => async () => ({ call: async () => ({ type: "status", id: 1, ...status }), close() {} });

  it.each([
    ["not running", undefined, client({}), "skip", undefined, /not running/],
    ["running, same version", sock, client({ version: "0.1.0", pid: 42, uptime: 90 }), "ok", undefined, /version 0\.1\.0, pid 42, up 1m/],
    ["running, other version", sock, client({ version: "0.0.9", pid: 42 }), "warn", "kill 42 && tokenctl daemon   # restart it on the new version", /this tokenctl is version 0\.1\.0/],
    [
      "stale socket",
      sock,
      async () => {
        throw new UnavailableError("No tokenctl daemon answers on /r/tokenctl.sock (ECONNREFUSED)");
      },
      "warn",
      "tokenctl daemon --socket /r/tokenctl.sock   # replaces a stale socket",
      /no daemon answers/,
    ],
    [
      "refused",
      sock,
      async () => {
        throw new AuthRefusedError('The daemon refused the credential: "Invalid token"', { hint: "Use the token file of the daemon" });
      },
      "fail",
      "Use the token file of the daemon",
      /refused/,
    ],
    [
      "token file too open",
      sock,
      async () => {
        throw new InsecureFileError("Permissions 0644 for /r/daemon.token are too open", { hint: "chmod 600 /r/daemon.token" });
      },
      "fail",
      "chmod 600 /r/daemon.token",
      /too open/,
    ],
    [
      "served by another user",
      sock,
      async () => {
        throw new UntrustedDaemonError("Refusing the daemon on /r/tokenctl.sock: the process serving it runs as uid 65534, neither you (uid 1000) nor root; nothing was sent", {
          hint: "Connect to your own daemon: unset TOKENCTL_SOCKET (or --socket) and run tokenctl daemon",
        });
      },
      "fail",
      "Connect to your own daemon: unset TOKENCTL_SOCKET (or --socket) and run tokenctl daemon",
      /runs as uid 65534/,
    ],
  ] as const)("%s", async (_n, st, connect, status, fix, detail) => {
    const c = await checkDaemon(paths, { stat: () => st, connectDaemon: connect as never, version: "0.1.0" });
    expect(c.status).toBe(status);
    expect(c.fix).toBe(fix);
    expect(c.detail).toMatch(detail);
  });

  it("closes the connection after asking for status", async () => {
    let closed = 0;
    let asked = "";
    await checkDaemon(paths, {
      stat: () => sock,
      connectDaemon: async () => ({
        call: async (type: string) => ((asked = type), { type: "status", version: "0.1.0" }),
        close: () => void closed++,
      }),
      version: "0.1.0",
    });
    expect(asked).toBe("status");
    expect(closed).toBe(1);
  });
});

describe("checkVault", () => {
  const info = { displayName: "token-alice", policies: [], identityPolicies: [], ttl: 7200, renewable: true };
  it("skips when no address is configured", async () => {
    const c = await checkVault({ timeoutMs: 1000 }, { env: {}, vaultLookupSelf: async () => info });
    expect(c.status).toBe("skip");
  });

  it("looks the token up (from VAULT_TOKEN) and never shows it", async () => {
    let seen = "";
    const c = await checkVault({ timeoutMs: 1000 }, {
      env: { VAULT_ADDR: "https://vault.example:8200/", VAULT_TOKEN: MARK_VAULT },
      vaultLookupSelf: async (o) => ((seen = o.token), info),
    });
    expect(seen).toBe(MARK_VAULT);
    expect(c.status).toBe("ok");
    expect(c.detail).toBe("https://vault.example:8200: token from VAULT_TOKEN is valid (token-alice; expires in 2h 0m (renewable))");
    expect(JSON.stringify(c)).not.toContain(MARK_VAULT);
  });

  it("a missing token file is a failing row naming it; Vault is not asked", async () => {
    let asked = false;
    const c = await checkVault({ addr: "https://v.example", tokenFile: "/nonexistent/vault.token", timeoutMs: 1000 }, {
      env: {},
      vaultLookupSelf: async () => ((asked = true), info),
    });
    expect(c.status).toBe("fail");
    expect(c.detail).toContain("/nonexistent/vault.token");
    expect(asked).toBe(false);
  });

  it("maps refusals and outages to rows with their fix", async () => {
    for (const [err, fix] of [
      [new AuthRefusedError("Vault refused the token (HTTP 403: permission denied)"), "export a valid VAULT_TOKEN, or better: VAULT_TOKEN_FILE"],
      [new UnavailableError("Vault is unreachable"), "check VAULT_ADDR (https://v.example) and that Vault is unsealed: curl -s https://v.example/v1/sys/health"],
    ] as const) {
      const c = await checkVault({ addr: "https://v.example", timeoutMs: 1000 }, {
        env: { VAULT_TOKEN: MARK_VAULT },
        vaultLookupSelf: async () => {
          throw err;
        },
      });
      expect(c).toMatchObject({ status: "fail", fix });
      expect(JSON.stringify(c)).not.toContain(MARK_VAULT);
    }
  });

  it("warns about a short-lived token that cannot be renewed", async () => {
    const c = await checkVault({ addr: "https://v.example", timeoutMs: 1000 }, {
      env: { VAULT_TOKEN: MARK_VAULT },
      vaultLookupSelf: async () => ({ ...info, ttl: 600, renewable: false }),
    });
    expect(c.status).toBe("warn");
  });
});

describe("checkPaths", () => {
  /** A fake filesystem: path → stat; dirs list their children by prefix. */
  function fakeFs(entries: Record<string, PathStat>) {
    return {
      uid: ME,
      stat: (p: string) => entries[p],
      readdir: (p: string) =>
        Object.keys(entries)
          .filter((k) => k.startsWith(`${p}/`) && !k.slice(p.length + 1).includes("/"))
          .map((k) => k.slice(p.length + 1)),
    };
  }

  it("sweeps private dirs for unknown files (e.g. sessions.json) and judges them as secrets", () => {
    const fs = fakeFs({
      "/s": { type: "dir", mode: 0o700, uid: ME },
      "/s/token": { type: "file", mode: 0o600, uid: ME },
      "/s/sessions.json": { type: "file", mode: 0o644, uid: ME },
      "/s/sub": { type: "dir", mode: 0o755, uid: ME },
      "/s/sub/x.lock": { type: "file", mode: 0o600, uid: ME },
    });
    const rows = checkPaths(
      [
        { path: "/s", kind: "private-dir", label: "state dir" },
        { path: "/s/token", kind: "secret-file", label: "token file" },
        { path: "/s/gone.lock", kind: "lock-file", label: "absent lock" },
      ],
      fs,
    );
    expect(rows.map((r) => [r.name, r.status, r.fix])).toEqual([
      ["state dir", "ok", undefined],
      ["token file", "ok", undefined],
      ["sessions.json", "fail", "chmod 600 /s/sessions.json"],
      ["dir sub", "fail", "chmod 700 /s/sub"],
      ["x.lock", "ok", undefined],
    ]);
  });

  it("omits absent locks and logs, and absent files of an absent dir; keeps the absent dir and top-level files", () => {
    const rows = checkPaths(
      [
        { path: "/s", kind: "private-dir", label: "state dir" },
        { path: "/s/token", kind: "secret-file", label: "token file" },
        { path: "/s/a.lock", kind: "lock-file", label: "lock" },
        { path: "/s/v", kind: "private-dir", label: "sub dir" },
        { path: "/s/v/copy.json", kind: "secret-file", label: "copy" },
      ],
      { uid: ME, stat: () => undefined, readdir: () => [] },
    );
    expect(rows.map((r) => [r.name, r.status])).toEqual([["state dir", "skip"]]);
    const top = checkPaths([{ path: "/c/tokenctl/config.json", kind: "config-file", label: "config.json" }], { uid: ME, stat: () => undefined, readdir: () => [] });
    expect(top.map((r) => r.status)).toEqual(["skip"]);
  });

  it("reports a path it cannot stat", () => {
    const rows = checkPaths([{ path: "/x", kind: "private-dir", label: "d" }], {
      uid: ME,
      stat: () => {
        throw Object.assign(new Error("denied"), { code: "EACCES" });
      },
      readdir: () => [],
    });
    expect(rows).toEqual([{ name: "d", status: "fail", detail: "/x: cannot stat (EACCES)" }]);
  });
});

describe("runDoctor", () => {
  const env = { HOME: "/h", XDG_CONFIG_HOME: "/c", XDG_STATE_HOME: "/s", XDG_RUNTIME_DIR: "/r", VAULT_ADDR: "https://v.example", VAULT_TOKEN: MARK_VAULT };
  const dirs = ["/r", "/c/tokenctl", "/s/tokenctl", "/r/tokenctl"];

  function deps(over: Partial<DoctorDeps> = {}, files: Record<string, PathStat> = {}): DoctorDeps {
    const entries: Record<string, PathStat> = Object.fromEntries(dirs.map((d) => [d, { type: "dir", mode: 0o700, uid: ME } as PathStat]));
    Object.assign(entries, files);
    const store = (rec: OAuthRecord | undefined): CredentialStore => ({
      kind: "file",
      description: "file /c/tokenctl/credentials.json#work",
      lockPath: "/c/tokenctl/credentials.json.lock",
      read: async () => rec,
      write: async () => {
        throw new Error("doctor must not write");
      },
      remove: async () => {
        throw new Error("doctor must not remove");
      },
    });
    return {
      env,
      platform: "linux",
      uid: ME,
      now: () => NOW,
      stat: (p) => entries[p],
      readdir: (p) => Object.keys(entries).filter((k) => k.startsWith(`${p}/`) && !k.slice(p.length + 1).includes("/")).map((k) => k.slice(p.length + 1)),
      probeKeychain: async () => undefined,
      openStore: async () => ({ store: store(record()) }),
      connectDaemon: async () => ({ call: async () => ({ type: "status", version: "0.1.0", pid: 7, uptime: 5, token: MARK_DAEMON }), close() {} }),
      readProfiles: () => ({ work: { ...full, store: "file" } }),
      vaultLookupSelf: async () => ({ displayName: "t", policies: [], identityPolicies: [], ttl: 0, renewable: false }),
      version: "0.1.0",
      checkDirTrust: () => {},
      ...over,
    };
  }

  it("all well: no failures, and no marker secret in the table or the JSON", async () => {
    const checks = await runDoctor({}, deps({}, { "/r/tokenctl/tokenctl.sock": sock, "/r/tokenctl/daemon.token": { type: "file", mode: 0o600, uid: ME } }));
    expect(hasFailures(checks)).toBe(false);
    const names = checks.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(["config dir", "state dir", "daemon socket dir", "keychain", "daemon", "oauth work", "oauth default", "vault"]));
    expect(checks.find((c) => c.name === "daemon")!.status).toBe("ok");
    expect(checks.find((c) => c.name === "vault")!.detail).toContain("does not expire");
    const out = formatTable(checks) + JSON.stringify(checks) + summarize(checks);
    for (const m of [MARK_ACCESS, MARK_REFRESH, MARK_DAEMON, MARK_VAULT]) expect(out).not.toContain(m);
  });

  it("a 0644 token file and a 0755 state dir fail with their chmod", async () => {
    const checks = await runDoctor({}, deps({}, { "/s/tokenctl": { type: "dir", mode: 0o755, uid: ME }, "/s/tokenctl/token": { type: "file", mode: 0o644, uid: ME } }));
    expect(hasFailures(checks)).toBe(true);
    const fixes = checks.filter((c) => c.status === "fail").map((c) => c.fix);
    expect(fixes).toEqual(["chmod 700 /s/tokenctl", "chmod 600 /s/tokenctl/token"]);
    const table = formatTable(checks);
    expect(table).toContain("fix: chmod 700 /s/tokenctl\n");
    expect(table).toContain("fix: chmod 600 /s/tokenctl/token\n");
  });

  it("an invalid config.json is a failing row, and the other checks still run", async () => {
    const checks = await runDoctor({}, deps({
      readProfiles: () => {
        throw new InsecureFileError("/c/tokenctl/config.json is not valid JSON");
      },
    }, { "/c/tokenctl/config.json": { type: "file", mode: 0o600, uid: ME } }));
    const row = checks.find((c) => c.name === "config.json")!;
    expect(row.status).toBe("fail");
    expect(row.detail).toContain("not valid JSON");
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(["keychain", "daemon", "oauth default", "vault"]));
  });

  it("a throwing store read becomes a failing row with its hint", async () => {
    const checks = await runDoctor({}, deps({
      openStore: async () => {
        throw new InsecureFileError("Permissions 0644 for /c/tokenctl/credentials.json are too open", { hint: "chmod 600 /c/tokenctl/credentials.json" });
      },
    }));
    expect(checks.find((c) => c.name === "oauth work")).toMatchObject({ status: "fail", fix: "chmod 600 /c/tokenctl/credentials.json" });
  });

  it("a refresh error the daemon holds for a profile turns its row into a warning", async () => {
    const checks = await runDoctor({}, deps({
      connectDaemon: async () => ({
        call: async () => ({ type: "status", version: "0.1.0", oauth: { profiles: { work: { store: "file", lastError: "The authorization server refused the refresh (invalid_grant)" } } } }),
        close() {},
      }),
    }, { "/r/tokenctl/tokenctl.sock": sock }));
    expect(checks.find((c) => c.name === "oauth work")).toMatchObject({
      status: "warn",
      fix: "tokenctl oauth login --profile work",
    });
    expect(checks.find((c) => c.name === "oauth work")!.detail).toContain("the daemon's last refresh failed: The authorization server refused the refresh (invalid_grant)");
    expect(checks.find((c) => c.name === "oauth default")!.detail).not.toContain("daemon's last refresh");
  });

  it("never writes to a store: a dry check", async () => {
    // The fake store's write/remove throw; an expired record must still be only judged.
    const checks = await runDoctor({}, deps({ openStore: async (p) => ({ store: { kind: "file", description: "f", lockPath: "l", read: async () => record({ expiresAt: NOW - 1 }), write: async () => { throw new Error(`wrote ${p.name}`); }, remove: async () => { throw new Error("removed"); } } }) }));
    expect(checks.find((c) => c.name === "oauth work")!.status).toBe("ok");
    expect(JSON.stringify(checks)).not.toContain("wrote");
  });

  it("warns when XDG_RUNTIME_DIR is not yours or not 0700, and says the state dir is used", async () => {
    const checks = await runDoctor({}, deps({}, { "/r": { type: "dir", mode: 0o777, uid: ME } }));
    const row = checks.find((c) => c.name === "runtime dir")!;
    expect(row.status).toBe("warn");
    expect(row.detail).toBe("XDG_RUNTIME_DIR=/r has mode 0777, not the 0700 the XDG spec requires; tokenctl uses /s/tokenctl/run instead");
    expect(row.fix).toContain("chmod 700 /r");
    expect(checks.find((c) => c.name === "daemon socket dir")!.detail).toStartWith("/s/tokenctl/run");
    const other = await runDoctor({}, deps({}, { "/r": { type: "dir", mode: 0o700, uid: ME + 1 } }));
    expect(other.find((c) => c.name === "runtime dir")!.detail).toContain(`owned by uid ${ME + 1}`);
  });

  it("fails a path whose directories another user could replace, with the check's own fix", async () => {
    const checks = await runDoctor(
      {},
      deps({
        checkDirTrust: (dir, what) => {
          if (dir.startsWith("/r")) throw new UntrustedPathError(`Refusing ${what}: directory /r (mode 0777) is writable by others, who could replace what is in it`, "/r", 0, { hint: "chmod go-w /r" });
        },
      }),
    );
    const row = checks.find((c) => c.name === "path trust: daemon socket")!;
    expect(row).toMatchObject({ status: "fail", fix: "chmod go-w /r" });
    expect(row.detail).toContain("the daemon socket /r/tokenctl");
    expect(checks.find((c) => c.name === "path trust: config dir")!.status).toBe("ok");
    expect(hasFailures(checks)).toBe(true);
  });
});

describe("report", () => {
  it("prints fixes only under problem rows, and summarizes", () => {
    const checks = [
      { name: "a", status: "ok" as const, detail: "fine" },
      { name: "bb", status: "fail" as const, detail: "bad", fix: "chmod 600 /x" },
      { name: "c", status: "skip" as const, detail: "absent" },
    ];
    expect(formatTable(checks)).toBe(
      ["STATUS  CHECK  DETAIL", "ok      a      fine", "FAIL    bb     bad", "               fix: chmod 600 /x", "skip    c      absent", ""].join("\n"),
    );
    expect(summarize(checks)).toBe("1 problem, 0 warnings in 3 checks");
    expect(summarize([checks[0]!])).toBe("All 1 checks passed (0 skipped)");
  });
});

/** openForReading: the store doctor reads a profile from, on a real temp filesystem, never probing twice. */
import { describe, expect, it } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkOAuthProfile, openForReading } from "../../src/doctor/store.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import type { SecretsApi } from "../../src/oauth/store.ts";
import { tempDir } from "../support/tmp.ts";

const REC = { accessToken: "MARKER-AT-store", refreshToken: "MARKER-RT-store", expiresAt: Date.now() + 600_000, scopes: [] };

function setup() {
  const home = tempDir();
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, "c"), XDG_STATE_HOME: join(home, "s") };
  mkdirSync(join(home, "c", "tokenctl"), { recursive: true, mode: 0o700 });
  const calls: string[] = [];
  const secrets: SecretsApi = {
    get: async (o) => (calls.push(`get ${o.name}`), JSON.stringify(REC)),
    set: async () => void calls.push("set"),
    delete: async () => (calls.push("delete"), true),
  };
  return { home, env, calls, secrets };
}

describe("openForReading", () => {
  it("a keychain profile whose record an earlier fallback put in credentials.json is read there", async () => {
    const s = setup();
    writeFileSync(join(s.home, "c", "tokenctl", "credentials.json"), JSON.stringify({ work: REC }), { mode: 0o600 });
    const p = resolveProfile({ profile: "work" }, s.env, () => ({}));
    const { store, note } = await openForReading(p, true, { env: s.env, secrets: s.secrets });
    expect(store.kind).toBe("file");
    expect(note).toBe("keychain fallback");
    expect(s.calls).toEqual([]);
  });

  it("reads the keychain only when the probe answered", async () => {
    const s = setup();
    const p = resolveProfile({ profile: "work" }, s.env, () => ({}));
    const down = await openForReading(p, false, { env: s.env, secrets: s.secrets });
    expect(down).toMatchObject({ note: "keychain unavailable" });
    expect(await down.store.read()).toBeUndefined();
    const up = await openForReading(p, true, { env: s.env, secrets: s.secrets });
    expect(up.store.kind).toBe("keychain");
    expect(await up.store.read()).toMatchObject({ expiresAt: REC.expiresAt });
    expect(s.calls).toEqual(["get oauth:work"]);
  });

  it("file:PATH#KEY stores are read from that file; the row judges it without writing or printing a token", async () => {
    const s = setup();
    const shared = join(s.home, ".claude", ".credentials.json");
    mkdirSync(join(s.home, ".claude"), { mode: 0o700 });
    const text = JSON.stringify({ claudeAiOauth: { ...REC, subscriptionType: "max" }, other: 1 });
    writeFileSync(shared, text, { mode: 0o600 });
    const p = resolveProfile({ profile: "claude" }, s.env, () => ({ claude: { clientId: "c", tokenEndpoint: "https://a.example/t", store: `file:${shared}#claudeAiOauth` } }));
    const row = await checkOAuthProfile(p, false, { now: Date.now, openStore: (prof, usable) => openForReading(prof, usable, { env: s.env }) });
    expect(row.status).toBe("ok");
    expect(row.detail).toContain(`file ${shared}#claudeAiOauth: valid for`);
    expect(JSON.stringify(row)).not.toContain("MARKER");
    expect(await Bun.file(shared).text()).toBe(text);
  });
});

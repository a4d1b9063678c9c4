/** tokenFor with a store its caller already chose (the refresh helper's case): no second choice. */
import { describe, expect, test } from "bun:test";
import { resolveProfile } from "../../src/oauth/config.ts";
import { keychainStore, type SecretsApi } from "../../src/oauth/store.ts";
import { tokenFor } from "../../src/oauth/token.ts";
import { tempDir } from "../support/tmp.ts";

/** A keychain whose probe item does not answer (a probe would time out) while the profile's item does. */
function flakyProbeSecrets(): SecretsApi {
  const items = new Map<string, string>();
  return {
    get: async (o) => {
      if (o.name === "probe") throw new Error("libsecret not available");
      return items.get(`${o.service}/${o.name}`) ?? null;
    },
    set: async (o) => void items.set(`${o.service}/${o.name}`, o.value),
    delete: async (o) => items.delete(`${o.service}/${o.name}`),
  };
}

const fresh = (accessToken: string) => ({ accessToken, refreshToken: "rt", expiresAt: Date.now() + 3_600_000, scopes: ["openid"] });

describe("tokenFor({ chosen })", () => {
  const profile = resolveProfile({ profile: "p", issuer: "https://as.example", clientId: "c", store: "keychain" }, {}, () => ({}));

  test("chosen keychain: read from the keychain without probing it again", async () => {
    const env = { XDG_CONFIG_HOME: tempDir(), XDG_STATE_HOME: tempDir() };
    const secrets = flakyProbeSecrets();
    await keychainStore("p", { env, secrets }).write(fresh("from-keychain"));
    const got = await tokenFor({ profile, timeoutMs: 1000, env, secrets, chosen: "keychain" });
    expect(got.store.kind).toBe("keychain");
    expect(got.record.accessToken).toBe("from-keychain");
    // Choosing again would probe, fail, and fall back to the empty file store.
    await expect(tokenFor({ profile, timeoutMs: 1000, env, secrets })).rejects.toThrow(/not logged in|no credential|No OAuth/i);
  });
});

/** The keychain store against the real OS keychain (Secret Service on Linux); skipped visibly without one. */
import { afterEach, describe, expect, test } from "bun:test";
import { tempDir } from "../support/tmp.ts";
import { announceSkip, keychainUnavailableReason } from "../support/keychain.ts";
import { getValidToken } from "../../src/oauth/refresh.ts";
import { chooseStore, keychainStore } from "../../src/oauth/store.ts";

const reason = await keychainUnavailableReason();
announceSkip(reason, "test/oauth/keychain.test.ts");
const skip = reason !== undefined;
const label = (name: string) => (skip ? `${name} [SKIPPED: no working keychain: ${reason}]` : name);

const profile = `test-${process.pid}-${Date.now()}`;
afterEach(async () => {
  if (!skip) await Bun.secrets.delete({ service: "tokenctl", name: `oauth:${profile}` });
});

describe("keychain store (real Secret Service)", () => {
  test.skipIf(skip)(label("chooseStore picks the keychain when it answers; write, read, remove"), async () => {
    const env = { XDG_CONFIG_HOME: tempDir(), XDG_STATE_HOME: tempDir() };
    const { store, fallback } = await chooseStore({ spec: { type: "keychain" }, profile, env, preferKeychain: true });
    expect(fallback).toBeUndefined();
    expect(store.kind).toBe("keychain");
    const rec = { accessToken: "at", refreshToken: "rt", expiresAt: 123, scopes: ["s"] };
    await store.write(rec);
    expect(JSON.parse((await Bun.secrets.get({ service: "tokenctl", name: `oauth:${profile}` }))!)).toEqual(rec);
    expect(await store.read()).toEqual(rec);
    expect(await store.remove()).toBe(true);
    expect(await store.read()).toBeUndefined();
  });

  test.skipIf(skip)(label("locked refresh on a keychain store: lock in $XDG_STATE_HOME/tokenctl, one refresh for many callers"), async () => {
    const env = { XDG_STATE_HOME: tempDir() };
    const store = keychainStore(profile, { env });
    expect(store.lockPath).toBe(`${env.XDG_STATE_HOME}/tokenctl/${profile}.lock`);
    await store.write({ accessToken: "old", refreshToken: "rt0", expiresAt: Date.now() - 1, scopes: [] });
    let calls = 0;
    const refresh = async () => {
      calls++;
      await Bun.sleep(20);
      return { accessToken: "new", refreshToken: "rt1", expiresIn: 3600 };
    };
    const got = await Promise.all(Array.from({ length: 8 }, () => getValidToken({ store, minValidMs: 60_000, timeoutMs: 5000, profile, refresh })));
    expect(calls).toBe(1);
    expect(new Set(got.map((g) => g.record.accessToken))).toEqual(new Set(["new"]));
    expect((await store.read())?.refreshToken).toBe("rt1");
  });
});

import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/tmp.ts";
import { CredentialFormatError } from "../../src/oauth/record.ts";
import { chooseStore, defaultFileStore, fileStore, KeychainUnavailableError, keychainStore, parseStoreSpec, type SecretsApi } from "../../src/oauth/store.ts";

const rec = { accessToken: "at-1", refreshToken: "rt-1", expiresAt: 1_700_000_000_000, scopes: ["openid"] };

describe("parseStoreSpec", () => {
  test.each([
    ["keychain", { type: "keychain" }],
    ["file", { type: "file" }],
    ["file:/x/y.json", { type: "file", path: "/x/y.json", key: undefined }],
    ["file:~/.claude/.credentials.json#claudeAiOauth", { type: "file", path: "~/.claude/.credentials.json", key: "claudeAiOauth" }],
  ])("%s", (spec, expected) => expect(parseStoreSpec(spec)).toEqual(expected as never));
  test.each(["", "vault", "file:", "file:/x#"])("rejects %p", (spec) => expect(() => parseStoreSpec(spec)).toThrow(/store/i));
});

describe("file store", () => {
  test("a file that is not JSON, or a bad record in it: the hint logs in to the store's profile", async () => {
    const dir = tempDir();
    const path = join(dir, "c.json");
    writeFileSync(path, "{not json SECRET", { mode: 0o600 });
    const err = await fileStore(path, "work", "work").read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialFormatError);
    expect((err as CredentialFormatError).hint).toBe("Fix or move the file, then log in again: tokenctl oauth login --profile work");
    writeFileSync(path, JSON.stringify({ agent: { accessToken: "SECRET", expiresAt: "soon" } }), { mode: 0o600 });
    const bad = (await fileStore(path, "agent", "work").read().catch((e: unknown) => e)) as CredentialFormatError;
    expect(bad.hint).toBe("Log in again to replace it: tokenctl oauth login --profile work");
    expect(`${bad.message} ${bad.hint}`).not.toContain("SECRET");
    const secrets: SecretsApi = { get: async () => "{SECRET", set: async () => {}, delete: async () => false };
    const item = (await keychainStore("work", { secrets }).read().catch((e: unknown) => e)) as CredentialFormatError;
    expect(item.hint).toBe("Log in again to replace it: tokenctl oauth login --profile work");
  });
  test("round trip in a keyed file, 0600, other keys kept byte for byte", async () => {
    const dir = tempDir();
    const path = join(dir, "shared.json");
    const original = `{\n  "mcpOAuth": {"x": 1.0, "y": "\\u00e9"},\n  "claudeAiOauth": {"accessToken": "old", "refreshToken": "r0", "expiresAt": 1, "scopes": [], "subscriptionType": "max"}\n}\n`;
    writeFileSync(path, original, { mode: 0o600 });
    const store = fileStore(path, "claudeAiOauth", "default");
    expect(await store.read()).toEqual({ accessToken: "old", refreshToken: "r0", expiresAt: 1, scopes: [] });
    await store.write(rec);
    const text = readFileSync(path, "utf8");
    expect(text).toContain(`"mcpOAuth": {"x": 1.0, "y": "\\u00e9"},`);
    expect(JSON.parse(text).claudeAiOauth).toEqual({ ...rec, subscriptionType: "max" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await store.read()).toEqual(rec);
    expect(store.lockPath).toBe(`${path}.lock`);
    expect(await store.remove()).toBe(true);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ mcpOAuth: { x: 1, y: "é" } });
    expect(await store.read()).toBeUndefined();
  });

  test("a missing file reads as no record, and is created on write", async () => {
    const path = join(tempDir(), "sub", "c.json");
    const store = fileStore(path, "p", "p");
    expect(await store.read()).toBeUndefined();
    await store.write(rec);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ p: rec });
  });

  test("a whole-file record", async () => {
    const path = join(tempDir(), "r.json");
    const store = fileStore(path, undefined, "default");
    await store.write({ ...rec, refreshToken: undefined });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ accessToken: "at-1", expiresAt: rec.expiresAt, scopes: ["openid"] });
    expect(await store.remove()).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  test("garbage is reported and never overwritten", async () => {
    const path = join(tempDir(), "g.json");
    writeFileSync(path, "{not json", { mode: 0o600 });
    const store = fileStore(path, "k", "k");
    await expect(store.read()).rejects.toThrow(CredentialFormatError);
    await expect(store.write(rec)).rejects.toThrow("will not overwrite");
    expect(readFileSync(path, "utf8")).toBe("{not json");
    writeFileSync(path, JSON.stringify({ k: { accessToken: 5 } }));
    await expect(store.read()).rejects.toThrow("accessToken");
  });

  test("a too-open file is refused", async () => {
    const path = join(tempDir(), "o.json");
    writeFileSync(path, "{}");
    chmodSync(path, 0o644);
    await expect(fileStore(path, "k", "k").read()).rejects.toThrow("too open");
  });
});

function memorySecrets(): SecretsApi & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    get: async (o) => items.get(`${o.service}/${o.name}`) ?? null,
    set: async (o) => void items.set(`${o.service}/${o.name}`, o.value),
    delete: async (o) => items.delete(`${o.service}/${o.name}`),
  };
}

describe("keychain store (fake Bun.secrets; the real one is in keychain.test.ts)", () => {
  test("round trip", async () => {
    const secrets = memorySecrets();
    const store = keychainStore("work", { secrets, env: { XDG_STATE_HOME: "/s" } });
    expect(store.lockPath).toBe("/s/tokenctl/work.lock");
    await store.write(rec);
    expect(JSON.parse(secrets.items.get("tokenctl/oauth:work")!)).toEqual(rec);
    expect(await store.read()).toEqual(rec);
    expect(await store.remove()).toBe(true);
  });

  test("a hanging keychain times out on every call", async () => {
    const hang: SecretsApi = { get: () => new Promise(() => {}), set: () => new Promise(() => {}), delete: () => new Promise(() => {}) };
    const store = keychainStore("p", { secrets: hang, timeoutMs: 30 });
    await expect(store.read()).rejects.toThrow("did not answer a read within 30 ms");
    await expect(store.write(rec)).rejects.toThrow("did not answer a write");
    await expect(store.remove()).rejects.toThrow("did not answer a delete");
  });

  test("chooseStore falls back to the file store with the reason", async () => {
    const env = { XDG_CONFIG_HOME: tempDir(), XDG_STATE_HOME: tempDir() };
    const broken: SecretsApi = { ...memorySecrets(), get: async () => { throw new Error("libsecret not available"); } };
    const opened = await chooseStore({ spec: { type: "keychain" }, profile: "p", env, secrets: broken });
    expect(opened.store.kind).toBe("file");
    expect(opened.store.description).toBe(`file ${env.XDG_CONFIG_HOME}/tokenctl/credentials.json#p`);
    expect(opened.fallback?.reason).toContain("libsecret not available");
    const ok = await chooseStore({ spec: { type: "keychain" }, profile: "p", env, secrets: memorySecrets() });
    expect(ok.store.kind).toBe("keychain");
    expect(ok.fallback).toBeUndefined();
  });
});

describe("chooseStore", () => {
  test("keychain profile: the file record wins while it exists; an injected probe decides otherwise; file specs never probe", async () => {
    const env = { XDG_CONFIG_HOME: tempDir(), XDG_STATE_HOME: tempDir() };
    let probes = 0;
    const down = async () => (probes++, new KeychainUnavailableError("no keychain here"));
    const up = async () => (probes++, undefined);
    const spec = { type: "keychain" } as const;
    expect(await chooseStore({ spec, profile: "p", env, probe: down })).toMatchObject({ store: { kind: "file" }, note: "keychain unavailable", fallback: { reason: "no keychain here" } });
    expect((await chooseStore({ spec, profile: "p", env, probe: up, secrets: memorySecrets() })).store.kind).toBe("keychain");
    await defaultFileStore("p", env).write(rec);
    probes = 0;
    expect(await chooseStore({ spec, profile: "p", env, probe: up })).toMatchObject({ store: { kind: "file" }, note: "keychain fallback" });
    expect(probes).toBe(0);
    expect((await chooseStore({ spec, profile: "p", env, probe: up, preferKeychain: true, secrets: memorySecrets() })).store.kind).toBe("keychain");
    probes = 0;
    expect((await chooseStore({ spec: { type: "file", path: "~/x.json", key: "k" }, profile: "p", env: { ...env, HOME: "/h" }, probe: up })).store.description).toBe("file /h/x.json#k");
    expect(probes).toBe(0);
  });
});

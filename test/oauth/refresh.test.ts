import { describe, expect, spyOn, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/tmp.ts";
import { AuthRefusedError, NotFoundError, UnavailableError } from "../../src/errors.ts";
import { tryLock } from "../../src/fs/lock.ts";
import * as lockModule from "../../src/fs/lock.ts";
import { OAuthServerError, TransientError, type TokenGrant } from "../../src/oauth/errors.ts";
import { getValidToken, type RefreshFn } from "../../src/oauth/refresh.ts";
import { fileStore } from "../../src/oauth/store.ts";

const NOW = 1_800_000_000_000;
const MIN = 5 * 60_000;

function setup(record: object | undefined, extra: Record<string, unknown> = { other: { keep: [1, 2] } }) {
  const path = join(tempDir(), "creds.json");
  writeFileSync(path, JSON.stringify({ ...extra, ...(record ? { p: record } : {}) }, null, 2), { mode: 0o600 });
  return { path, store: fileStore(path, "p", "p"), text: () => readFileSync(path, "utf8"), json: () => JSON.parse(readFileSync(path, "utf8")) };
}

const expired = { accessToken: "at-old", refreshToken: "rt-old", expiresAt: NOW + 60_000, scopes: ["a"] };

function counting(fn: RefreshFn): RefreshFn & { calls: string[] } {
  const calls: string[] = [];
  const f = (async (rt: string, signal: AbortSignal) => {
    calls.push(rt);
    return fn(rt, signal);
  }) as RefreshFn & { calls: string[] };
  f.calls = calls;
  return f;
}

const grant = (g: Partial<TokenGrant> = {}): RefreshFn => async () => ({ accessToken: "at-new", refreshToken: "rt-new", expiresIn: 3600, ...g });
const base = { minValidMs: MIN, timeoutMs: 2000, profile: "p", now: () => NOW };

describe("getValidToken", () => {
  test("a fresh token is returned without taking the lock or calling the server", async () => {
    const s = setup({ ...expired, expiresAt: NOW + 3_600_000 });
    const refresh = counting(grant());
    const lockSpy = spyOn(lockModule, "lock");
    const got = await getValidToken({ ...base, store: s.store, refresh });
    expect(got).toEqual({ record: { ...expired, expiresAt: NOW + 3_600_000 }, source: "store" });
    expect(refresh.calls).toEqual([]);
    expect(lockSpy).not.toHaveBeenCalled();
    lockSpy.mockRestore();
  });

  test("refreshes inside the margin and writes the new record, other keys kept", async () => {
    const s = setup(expired);
    const refresh = counting(grant({ scope: "a b" }));
    const got = await getValidToken({ ...base, store: s.store, refresh });
    expect(got.source).toBe("refreshed");
    expect(refresh.calls).toEqual(["rt-old"]);
    expect(s.json()).toEqual({ other: { keep: [1, 2] }, p: { accessToken: "at-new", refreshToken: "rt-new", expiresAt: NOW + 3_600_000, lifetimeMs: 3_600_000, scopes: ["a", "b"] } });
  });

  test.each([undefined, ""])("a response without a refresh token (%p) keeps the old one", async (rt) => {
    const s = setup(expired);
    await getValidToken({ ...base, store: s.store, refresh: grant({ refreshToken: rt, expiresIn: undefined }) });
    expect(s.json().p).toEqual({ accessToken: "at-new", refreshToken: "rt-old", expiresAt: NOW + 3_600_000, lifetimeMs: 3_600_000, scopes: ["a"] });
  });

  test("concurrent callers in one process: exactly one refresh, all get its token", async () => {
    const s = setup(expired);
    let n = 0;
    const refresh = counting(async () => {
      await Bun.sleep(30);
      return { accessToken: `at-${++n}`, refreshToken: `rt-${n}`, expiresIn: 3600 };
    });
    const all = await Promise.all(Array.from({ length: 16 }, () => getValidToken({ ...base, store: s.store, refresh })));
    expect(refresh.calls).toEqual(["rt-old"]);
    expect(new Set(all.map((r) => r.record.accessToken))).toEqual(new Set(["at-1"]));
    expect(all.filter((r) => r.source === "refreshed").length).toBe(1);
  });

  test("invalid_grant with the store rotated outside the lock: uses the stored record", async () => {
    const s = setup(expired);
    const refresh = counting(async () => {
      // The agent itself rotated the credential without our lock, just before our request landed.
      writeFileSync(s.path, JSON.stringify({ p: { accessToken: "at-agent", refreshToken: "rt-agent", expiresAt: NOW + 3_600_000 } }));
      throw new OAuthServerError("invalid_grant", 400, "grant request is invalid");
    });
    const got = await getValidToken({ ...base, store: s.store, refresh });
    expect(got.source).toBe("rotated-outside-lock");
    expect(got.record.accessToken).toBe("at-agent");
  });

  test("invalid_grant with an expired rotated record: one retry with the new refresh token", async () => {
    const s = setup(expired);
    const refresh = counting(async (rt) => {
      if (rt === "rt-old") {
        writeFileSync(s.path, JSON.stringify({ p: { ...expired, refreshToken: "rt-agent" } }));
        throw new OAuthServerError("invalid_grant", 400, "x");
      }
      return { accessToken: "at-2", refreshToken: "rt-2", expiresIn: 60 * 60 };
    });
    const got = await getValidToken({ ...base, store: s.store, refresh });
    expect(refresh.calls).toEqual(["rt-old", "rt-agent"]);
    expect(got.record.accessToken).toBe("at-2");
  });

  test("invalid_grant and nothing valid stored: AuthRefusedError naming login, store untouched", async () => {
    const s = setup(expired);
    const before = s.text();
    const refresh = counting(async () => {
      throw new OAuthServerError("invalid_grant", 400, "x");
    });
    const err = await getValidToken({ ...base, store: s.store, refresh }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthRefusedError);
    expect(err.exitCode).toBe(4);
    expect(err.hint).toBe("tokenctl oauth login --profile p");
    expect(refresh.calls).toEqual(["rt-old"]);
    expect(s.text()).toBe(before);
  });

  test("network errors are retried with backoff, then UnavailableError with the store untouched", async () => {
    const s = setup(expired);
    const before = s.text();
    let t = NOW;
    const sleeps: number[] = [];
    const refresh = counting(async () => {
      throw new TransientError("connection refused");
    });
    const err = await getValidToken({
      ...base,
      timeoutMs: 3000,
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
      store: s.store,
      refresh,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toContain("connection refused");
    expect(sleeps).toEqual([200, 400, 800, 1600]);
    expect(refresh.calls.length).toBe(4);
    expect(s.text()).toBe(before);
  });

  test("a transient failure then success", async () => {
    const s = setup(expired);
    let n = 0;
    const refresh: RefreshFn = async () => {
      if (n++ < 2) throw new TransientError("503");
      return { accessToken: "at-3", expiresIn: 10 };
    };
    const got = await getValidToken({ ...base, sleep: async () => {}, store: s.store, refresh });
    expect(got.record).toEqual({ accessToken: "at-3", refreshToken: "rt-old", expiresAt: NOW + 10_000, lifetimeMs: 10_000, scopes: ["a"] });
  });

  test("no credential: NotFoundError (exit 3)", async () => {
    const s = setup(undefined);
    const err = await getValidToken({ ...base, store: s.store, refresh: grant() }).catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain(`file ${s.path}#p`);
  });

  test("expired without a refresh token: AuthRefusedError; inside the margin: returned with a warning", async () => {
    const s = setup({ accessToken: "a", refreshToken: "", expiresAt: NOW - 1000 });
    await expect(getValidToken({ ...base, store: s.store, refresh: grant() })).rejects.toThrow("no refresh token");
    const s2 = setup({ accessToken: "a", expiresAt: NOW + 60_000 });
    const got = await getValidToken({ ...base, store: s2.store, refresh: grant() });
    expect(got.warning).toContain("expires in 60 s");
  });

  test("a lock held too long: UnavailableError, nothing written", async () => {
    const s = setup(expired);
    const before = s.text();
    const held = tryLock(s.store.lockPath)!;
    try {
      const err = await getValidToken({ ...base, timeoutMs: 100, store: s.store, refresh: grant() }).catch((e) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect(s.text()).toBe(before);
    } finally {
      held.release();
    }
  });
});

describe("the default rule: min(5 min, half the lifetime) (no minValidMs)", () => {
  const short = (leftMs: number) => ({ ...expired, expiresAt: NOW + leftMs, lifetimeMs: 20_000 });
  test.each([
    ["20 s token, 15 s left: used as it is", short(15_000), 0],
    ["20 s token, exactly half left: used", short(10_000), 0],
    ["20 s token, 9 s left: refreshed", short(9_000), 1],
    ["1 h token, 6 min left: used", { ...expired, expiresAt: NOW + 360_000, lifetimeMs: 3_600_000 }, 0],
    ["1 h token, 4 min left: refreshed", { ...expired, expiresAt: NOW + 240_000, lifetimeMs: 3_600_000 }, 1],
    ["no lifetime stored (older record), 4 min left: the 5 min margin", { ...expired, expiresAt: NOW + 240_000 }, 1],
  ])("%s", async (_name, record, calls) => {
    const s = setup(record);
    const refresh = counting(grant({ expiresIn: 20 }));
    const { minValidMs: _, ...rest } = base;
    const got = await getValidToken({ ...rest, store: s.store, refresh });
    expect(refresh.calls.length).toBe(calls);
    if (calls) expect(s.json().p).toMatchObject({ expiresAt: NOW + 20_000, lifetimeMs: 20_000 });
    else expect(got.source).toBe("store");
  });
});

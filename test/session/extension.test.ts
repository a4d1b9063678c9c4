import { describe, expect, it } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { FakeScheduler } from "../support/scheduler.ts";
import { tempDir } from "../support/tmp.ts";
import type { ConnectionInfo, DaemonApi, Message } from "../../src/daemon/extension.ts";
import { AuthRefusedError, UsageError } from "../../src/errors.ts";
import { createSessionExtension, effectiveScope, nextSaveDelay } from "../../src/session/extension.ts";
import { type RegistrySnapshot, fileRegistryStore } from "../../src/session/registry.ts";
import { hashToken, mintToken } from "../../src/session/token.ts";

const admin: ConnectionInfo = { id: 1, admin: true };
const anon: ConnectionInfo = { id: 9, admin: false };

function fakeApi() {
  const events: { topic: string; data: any }[] = [];
  const logs: string[] = [];
  const api: DaemonApi = {
    publish: (topic, data) => events.push({ topic, data }),
    log: { info: (...a) => logs.push(a.join(" ")), warn: (...a) => logs.push(a.join(" ")), error: (...a) => logs.push(a.join(" ")), debug: () => {} },
  };
  return { api, events, logs };
}

function setup(opts: Parameters<typeof createSessionExtension>[0] = {}) {
  const ext = createSessionExtension({ store: null, isAlive: () => true, ...opts });
  const { api, events, logs } = fakeApi();
  ext.start!(api);
  const call = (type: string, m: Message, conn: ConnectionInfo = admin) => ext.handlers![type]!({ type, ...m }, conn) as any;
  const register = (m: Message = {}, conn: ConnectionInfo = admin) => {
    const token = mintToken();
    const { session } = call("session.register", { token, name: "n", pid: process.pid, cwd: "/", ...m }, conn);
    return { token, session };
  };
  /** Authenticate as a session the way the daemon does: identity = authenticate()'s answer. */
  const as = async (token: string): Promise<ConnectionInfo> => {
    const identity = await ext.authenticate!({ type: "auth", session: token });
    if (!identity) throw new Error("refused");
    return { id: 2, admin: false, identity };
  };
  return { ext, call, register, as, events, logs };
}

describe("session extension handlers", () => {
  it("registers and publishes session.registered", () => {
    const { register, events, ext } = setup();
    const { token, session } = register({ scope: "ci" });
    expect(session).toMatchObject({ name: "n", scope: "ci", pid: process.pid, cwd: "/" });
    expect(events).toEqual([{ topic: "session.registered", data: { session } }]);
    expect(JSON.stringify(events)).not.toContain(token);
    ext.stop!();
  });

  it("resolves a token; unknown is null", () => {
    const { register, call } = setup();
    const { token, session } = register();
    expect(call("session.resolve", { token })).toEqual({ session });
    expect(call("session.resolve", { token: mintToken() })).toEqual({ session: null });
    expect(call("session.resolve", { token: "junk" })).toEqual({ session: null });
  });

  it("authenticate accepts a registered token only", async () => {
    const { register, ext } = setup();
    const { token, session } = register();
    expect(await ext.authenticate!({ type: "auth", session: token })).toEqual(session);
    expect(await ext.authenticate!({ type: "auth", session: mintToken() })).toBeUndefined();
    expect(await ext.authenticate!({ type: "auth", session: 12 })).toBeUndefined();
    expect(await ext.authenticate!({ type: "auth" })).toBeUndefined();
  });

  it("whoami: a session connection resolves itself without sending its token", async () => {
    const { register, call, as } = setup();
    const { token, session } = register({ scope: "x" });
    expect(call("session.resolve", {}, await as(token))).toEqual({ session });
  });

  it("scoping: a session acts in its own scope only, the daemon token names any", async () => {
    const { register, call, as } = setup();
    const a1 = register({ scope: "a" });
    const a2 = register({ scope: "a" });
    const b = register({ scope: "b" });
    const ids = (r: any) => r.sessions.map((s: any) => s.id).sort();
    const connA = await as(a1.token);
    expect(ids(call("session.list", {}, connA))).toEqual([a1.session.id, a2.session.id].sort());
    expect(call("session.list", {}, connA).scope).toBe("a");
    expect(ids(call("session.list", { scope: "a" }, connA))).toEqual([a1.session.id, a2.session.id].sort());
    expect(() => call("session.list", { scope: "b" }, connA)).toThrow("Not allowed: a session may act only in its own scope (yours: a, asked: b)");
    expect(ids(call("session.list", {}))).toEqual([a1.session.id, a2.session.id, b.session.id].sort());
    expect(call("session.list", {}).scope).toBeNull();
    expect(ids(call("session.list", { scope: "a" }))).toEqual([a1.session.id, a2.session.id].sort());
  });

  it("a session registers in its own scope only", async () => {
    const { register, as } = setup();
    const parent = register({ scope: "team" });
    const child = register({}, await as(parent.token));
    expect(child.session.scope).toBe("team");
    expect(register({ scope: "team" }, await as(parent.token)).session.scope).toBe("team");
    let refused: any;
    try {
      register({ scope: "other" }, await as(parent.token));
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(AuthRefusedError);
    expect(refused.wireCode).toBe("session.not_allowed");
    expect(register({}).session.scope).toBe("default");
  });

  it("effectiveScope", () => {
    const conn: ConnectionInfo = { id: 3, admin: false, identity: { id: "x", scope: "mine" } };
    expect(effectiveScope({}, conn)).toBe("mine");
    expect(effectiveScope({ scope: "mine" }, conn)).toBe("mine");
    expect(() => effectiveScope({ scope: "theirs" }, conn)).toThrow(/only in its own scope/);
    expect(effectiveScope({}, admin)).toBeUndefined();
    expect(effectiveScope({ scope: "s" }, admin)).toBe("s");
    expect(() => effectiveScope({ scope: "bad scope" }, admin)).toThrow(/scope/);
  });

  it("revoke: admin any, a session only its own scope; publishes session.ended", async () => {
    const { register, call, as, events } = setup();
    const a = register({ scope: "a" });
    const a2 = register({ scope: "a" });
    const b = register({ scope: "b" });
    const connA = await as(a.token);
    expect(() => call("session.revoke", { id: b.session.id }, connA)).toThrow(/may act only in its own scope \(yours: a, session [0-9a-f]+: b\)/);
    expect(call("session.revoke", { id: a2.session.id }, connA)).toEqual({ session: a2.session });
    expect(call("session.revoke", { id: b.session.id })).toEqual({ session: b.session });
    expect(call("session.revoke", { id: b.session.id })).toEqual({ session: null });
    expect(call("session.revoke", { id: 5 })).toEqual({ session: null });
    expect(events.filter((e) => e.topic === "session.ended")).toEqual([
      { topic: "session.ended", data: { session: a2.session, reason: "revoked" } },
      { topic: "session.ended", data: { session: b.session, reason: "revoked" } },
    ]);
    expect(call("session.resolve", { token: b.token })).toEqual({ session: null });
    // The protocol's numeric request id never names a session; sessionId does, and wins.
    const c = register({ scope: "a" });
    expect(call("session.revoke", { id: 7, sessionId: c.session.id })).toEqual({ session: c.session });
  });

  it("a connection whose session ended is refused", async () => {
    const { register, call, as } = setup();
    const a = register();
    const conn = await as(a.token);
    call("session.revoke", { id: a.session.id });
    expect(() => call("session.list", {}, conn)).toThrow(/has ended/);
  });

  it("a session may hold 64 live children; revoking one makes room; the daemon token is not counted", async () => {
    const { register, call, as } = setup();
    const parent = register({ scope: "p" });
    const conn = await as(parent.token);
    const kids = Array.from({ length: 64 }, () => register({}, conn));
    let refused: any;
    try {
      register({}, conn);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(AuthRefusedError);
    expect(refused.message).toBe("Not allowed: a session may hold at most 64 live sessions it registered");
    expect(refused.wireCode).toBe("session.limit");
    call("session.revoke", { sessionId: kids[0]!.session.id }, conn);
    register({}, conn);
    register({ scope: "p" });
  });

  it("refuses a pid that is not a live process of ours (code session.invalid, exit 2)", () => {
    const { call } = setup({ isAlive: (pid) => pid === process.pid });
    let refused: any;
    try {
      call("session.register", { token: mintToken(), pid: 1, cwd: "/" });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(UsageError);
    expect(refused.wireCode).toBe("session.invalid");
    expect(refused.message).toContain("found 1");
  });

  it("gives every handler error a wire code", () => {
    const { call } = setup();
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { wireCode?: string }).wireCode;
      }
    };
    expect(codeOf(() => call("session.register", { token: "short", pid: process.pid }))).toBe("session.invalid");
    expect(codeOf(() => call("session.list", {}, anon))).toBe("session.not_allowed");
  });

  it("refuses an unauthenticated connection", () => {
    const { call } = setup();
    expect(() => call("session.list", {}, anon)).toThrow(/daemon token or a session token/);
    expect(() => call("session.register", { token: mintToken(), pid: 1 }, anon)).toThrow(/daemon token/);
  });

  it("status counts sessions per scope", () => {
    const { register, ext } = setup({ reapIntervalMs: 1234 });
    register({ scope: "a" });
    register({ scope: "a" });
    register({ scope: "b" });
    expect(ext.status!()).toMatchObject({ sessions: 3, byScope: { a: 2, b: 1 }, reapIntervalMs: 1234 });
  });
});

describe("reaper", () => {
  it("drops dead pids on an interval and publishes session.ended", async () => {
    const alive = new Set([111, 222]);
    const clock = new FakeScheduler();
    const { register, ext, events, call } = setup({ isAlive: (p) => alive.has(p), reapIntervalMs: 20, scheduler: clock });
    const s1 = register({ pid: 111 });
    register({ pid: 222 });
    alive.delete(111);
    clock.advance(19);
    expect(call("session.resolve", { token: s1.token }).session).not.toBeNull();
    clock.advance(1);
    expect(call("session.resolve", { token: s1.token })).toEqual({ session: null });
    expect(events.find((e) => e.topic === "session.ended")?.data).toEqual({ session: s1.session, reason: "reaped" });
    expect(ext.status!()).toMatchObject({ sessions: 1, reaped: 1 });
    ext.stop!();
  });

  it("stop() ends the interval", async () => {
    let asked = 0;
    const clock = new FakeScheduler();
    const { register, ext } = setup({ isAlive: () => (asked++, true), reapIntervalMs: 10, scheduler: clock });
    register();
    clock.advance(10);
    expect(asked).toBeGreaterThan(1);
    ext.stop!();
    const before = asked;
    clock.advance(50);
    expect(asked).toBe(before);
    expect(clock.pending).toBe(0);
  });
});

describe("persistence", () => {
  it("a restarted extension knows the live sessions and prunes the dead on start", () => {
    const path = join(tempDir(), "state", "sessions.json");
    const first = setup({ store: fileRegistryStore(path), saveDelayMs: 0 });
    const live = first.register({ pid: 111, scope: "a" });
    const dead = first.register({ pid: 222, scope: "a" });
    first.ext.stop!();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, "utf8");
    for (const t of [live.token, dead.token]) {
      expect(text).not.toContain(t);
      expect(text).toContain(hashToken(t));
    }
    const second = setup({ store: fileRegistryStore(path), isAlive: (p) => p === 111 });
    expect(second.call("session.resolve", { token: live.token })).toEqual({ session: live.session });
    expect(second.call("session.resolve", { token: dead.token })).toEqual({ session: null });
    expect(second.events).toEqual([{ topic: "session.ended", data: { session: dead.session, reason: "reaped" } }]);
    second.ext.stop!();
    const saved = JSON.parse(readFileSync(path, "utf8")) as RegistrySnapshot;
    expect(saved.sessions.map((s) => s.record.id)).toEqual([live.session.id]);
  });

  it("a second daemon sharing the state dir keeps memory only and never overwrites the first's file", () => {
    const path = join(tempDir(), "state", "sessions.json");
    const first = setup({ store: fileRegistryStore(path), saveDelayMs: 0 });
    const mine = first.register();
    const second = setup({ store: fileRegistryStore(path), saveDelayMs: 0 });
    expect(second.logs.some((l) => l.includes("memory only"))).toBe(true);
    second.register();
    second.ext.stop!();
    const saved = JSON.parse(readFileSync(path, "utf8")) as RegistrySnapshot;
    expect(saved.sessions.map((s) => s.record.id)).toEqual([mine.session.id]);
    first.ext.stop!();
    // Released on stop: the next daemon owns it again.
    const third = setup({ store: fileRegistryStore(path) });
    expect(third.call("session.resolve", { token: mine.token })).toEqual({ session: mine.session });
    third.ext.stop!();
  });

  it.each([
    [20, 0, 20],
    [20, 2, 20],
    [20, 100, 400],
    [0, 0.1, 1],
  ])("nextSaveDelay(%d ms, last save %d ms) = %d ms", (delay, last, expected) => {
    expect(nextSaveDelay(delay, last)).toBe(expected);
  });

  it("coalesces saves and flushes on stop", async () => {
    let saves = 0;
    const store = { load: () => undefined, save: () => void saves++ };
    const clock = new FakeScheduler();
    const { register, ext } = setup({ store, saveDelayMs: 30, scheduler: clock });
    for (let i = 0; i < 20; i++) register();
    clock.advance(29);
    expect(saves).toBe(0);
    clock.advance(1);
    expect(saves).toBe(1);
    register();
    ext.stop!();
    expect(saves).toBe(2);
  });

  it("a failing save is logged and retried, the daemon keeps serving", () => {
    let fail = true;
    let saved: unknown;
    const store = {
      load: () => undefined,
      save: (s: unknown) => {
        if (fail) throw new Error("disk full");
        saved = s;
      },
    };
    const { register, logs, ext } = setup({ store, saveDelayMs: 0 });
    register();
    expect(logs.some((l) => l.includes("disk full"))).toBe(true);
    fail = false;
    register();
    ext.stop!();
    expect((saved as RegistrySnapshot).sessions.length).toBe(2);
  });

  it("a snapshot of the wrong shape is ignored with a warning", () => {
    const store = { load: () => ({ version: 7 }), save: () => {} };
    const { logs, ext } = setup({ store });
    expect(logs.some((l) => l.includes("Ignoring the saved session registry"))).toBe(true);
    expect(ext.status!()).toMatchObject({ sessions: 0 });
  });
});

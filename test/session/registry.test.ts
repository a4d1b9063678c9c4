import { describe, expect, it, spyOn, afterEach, mock } from "bun:test";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/tmp.ts";
import { AuthRefusedError, NotFoundError, UsageError } from "../../src/errors.ts";
import { SessionRegistry, fileRegistryStore, pidOwned } from "../../src/session/registry.ts";
import { hashToken, mintToken } from "../../src/session/token.ts";

afterEach(() => mock.restore());

const reg = (input: Partial<{ token: unknown; name: unknown; scope: unknown; pid: unknown; cwd: unknown }> = {}) => ({
  token: mintToken(),
  name: "agent",
  pid: process.pid,
  cwd: "/tmp",
  ...input,
});

describe("SessionRegistry", () => {
  it("registers, resolves by token and never returns the token or its hash", () => {
    const r = new SessionRegistry({ now: () => Date.UTC(2026, 0, 1) });
    const input = reg({ scope: "ci" });
    const rec = r.register(input);
    expect(rec).toEqual({ id: expect.stringMatching(/^[0-9a-f]{16}$/), name: "agent", scope: "ci", pid: process.pid, cwd: "/tmp", createdAt: "2026-01-01T00:00:00.000Z" });
    expect(r.resolve(input.token)).toEqual(rec);
    const text = JSON.stringify([rec, r.list(), r.counts()]);
    expect(text).not.toContain(input.token as string);
    expect(text).not.toContain(hashToken(input.token as string));
  });

  it("defaults the scope and the name", () => {
    const r = new SessionRegistry();
    const rec = r.register({ token: mintToken(), pid: 1 });
    expect(rec.scope).toBe("default");
    expect(rec.name).toBe("");
  });

  it("keeps only hashes in its snapshot", () => {
    const r = new SessionRegistry();
    const tokens = [mintToken(), mintToken()];
    for (const token of tokens) r.register(reg({ token }));
    const snap = JSON.stringify(r.snapshot());
    for (const t of tokens) {
      expect(snap).not.toContain(t);
      expect(snap).toContain(hashToken(t));
    }
  });

  it.each([
    ["short token", { token: "abc" }, /64 lower-case hex/],
    ["upper-case token", { token: "A".repeat(64) }, /64 lower-case hex/],
    ["token not a string", { token: 42 }, /64 lower-case hex/],
    ["pid 0", { pid: 0 }, /positive integer/],
    ["pid string", { pid: "12" }, /positive integer/],
    ["pid float", { pid: 1.5 }, /positive integer/],
    ["scope with space", { scope: "a b" }, /scope/],
    ["empty scope", { scope: "" }, /scope/],
    ["name with newline", { name: "a\nb" }, /name/],
    ["cwd not a string", { cwd: 3 }, /cwd/],
  ])("refuses %s with a usage error", (_w, input, why) => {
    const r = new SessionRegistry();
    expect(() => r.register(reg(input))).toThrow(why);
    expect(() => r.register(reg(input))).toThrow(UsageError);
    expect(r.size).toBe(0);
  });

  it("refuses the same token twice", () => {
    const r = new SessionRegistry();
    const token = mintToken();
    r.register(reg({ token }));
    expect(() => r.register(reg({ token }))).toThrow(/already registered/);
    expect(r.size).toBe(1);
  });

  it("resolves junk to nothing", () => {
    const r = new SessionRegistry();
    r.register(reg());
    for (const junk of [undefined, null, 1, "", "x".repeat(64), mintToken()]) expect(r.resolve(junk)).toBeUndefined();
  });

  it("lists by scope and counts", () => {
    const r = new SessionRegistry();
    const a = r.register(reg({ scope: "a" }));
    const b1 = r.register(reg({ scope: "b" }));
    const b2 = r.register(reg({ scope: "b" }));
    expect(r.list("a").map((s) => s.id)).toEqual([a.id]);
    expect(new Set(r.list("b").map((s) => s.id))).toEqual(new Set([b1.id, b2.id]));
    expect(r.list().length).toBe(3);
    expect(r.list("none")).toEqual([]);
    expect(r.counts()).toEqual({ total: 3, byScope: { a: 1, b: 2 } });
  });

  it("revokes by id; the token no longer resolves", () => {
    const r = new SessionRegistry();
    const input = reg({ scope: "a" });
    const rec = r.register(input);
    expect(r.revoke(rec.id)).toEqual(rec);
    expect(r.resolve(input.token)).toBeUndefined();
    expect(r.counts()).toEqual({ total: 0, byScope: {} });
    expect(() => r.revoke(rec.id)).toThrow(NotFoundError);
  });

  it("reaps sessions whose pid is dead, asking once per pid", () => {
    const r = new SessionRegistry();
    const live = r.register(reg({ pid: 100 }));
    r.register(reg({ pid: 200 }));
    r.register(reg({ pid: 200 }));
    const asked: number[] = [];
    const dead = r.reap((pid) => {
      asked.push(pid);
      return pid === 100;
    });
    expect(dead.map((d) => d.pid)).toEqual([200, 200]);
    expect(asked.sort()).toEqual([100, 200]);
    expect(r.list()).toEqual([live]);
  });

  it("restores a snapshot, skipping malformed entries", () => {
    const a = new SessionRegistry();
    const token = mintToken();
    const rec = a.register(reg({ token, scope: "s" }));
    const snap = a.snapshot();
    const b = new SessionRegistry();
    const bad = [null, { hash: "nothex", record: rec }, { hash: "a".repeat(64), record: { ...rec, pid: -1 } }, { hash: "b".repeat(64) }];
    expect(b.restore({ ...snap, sessions: [...snap.sessions, ...bad] })).toEqual({ loaded: 1, skipped: 4 });
    expect(b.resolve(token)).toEqual(rec);
    expect(() => b.restore({ version: 2, sessions: [] })).toThrow(UsageError);
  });

  it("resolves in constant work: one hash, one lookup", () => {
    // Not timed (see scripts/bench/session.ts): count the Map lookups instead.
    const r = new SessionRegistry();
    const tokens = Array.from({ length: 2000 }, () => mintToken());
    for (const token of tokens) r.register(reg({ token }));
    const get = spyOn(Map.prototype, "get");
    r.resolve(tokens[1234]);
    const calls = get.mock.calls.length;
    expect(calls).toBe(1);
  });
});

describe("pidOwned", () => {
  it("is true for us, false for a reaped child", async () => {
    expect(pidOwned(process.pid)).toBe(true);
    const p = Bun.spawn(["true"]);
    await p.exited;
    expect(pidOwned(p.pid)).toBe(false);
  });

  it("is false for pid 1 and for a process of another uid", () => {
    expect(pidOwned(1)).toBe(false);
    // Our own process, judged as if we were another user: /proc names its real owner.
    expect(pidOwned(process.pid, (process.getuid?.() ?? 0) + 1)).toBe(false);
  });

  it("treats EPERM (another user's process) and ESRCH as not ours", () => {
    const kill = spyOn(process, "kill");
    kill.mockImplementation(() => {
      throw Object.assign(new Error("perm"), { code: "EPERM" });
    });
    expect(pidOwned(1234)).toBe(false);
    kill.mockImplementation(() => {
      throw Object.assign(new Error("gone"), { code: "ESRCH" });
    });
    expect(pidOwned(1234)).toBe(false);
    expect(kill).toHaveBeenCalledWith(1234, 0);
    kill.mockRestore();
  });
});

describe("limits", () => {
  const tok = (i: number) => i.toString(16).padStart(64, "0");
  it("holds at most maxSessions, with a clear refusal (exit 4, code session.limit)", () => {
    const r = new SessionRegistry({ maxSessions: 3 });
    for (let i = 1; i <= 3; i++) r.register({ token: tok(i), pid: 10 });
    let caught: unknown;
    try {
      r.register({ token: tok(4), pid: 10 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AuthRefusedError);
    expect((caught as Error).message).toBe("Not allowed: the daemon holds 3 sessions, its limit");
    expect((caught as { wireCode?: string }).wireCode).toBe("session.limit");
  });

  it("counts a session's live children: revoking one makes room, and the snapshot keeps the links", () => {
    const r = new SessionRegistry({ maxChildren: 2 });
    const parent = r.register({ token: tok(1), pid: 10 });
    const a = r.register({ token: tok(2), pid: 10, parent: parent.id });
    r.register({ token: tok(3), pid: 10, parent: parent.id });
    expect(() => r.register({ token: tok(4), pid: 10, parent: parent.id })).toThrow("Not allowed: a session may hold at most 2 live sessions it registered");
    r.revoke(a.id);
    r.register({ token: tok(4), pid: 10, parent: parent.id });
    const again = new SessionRegistry({ maxChildren: 2 });
    again.restore(JSON.parse(JSON.stringify(r.snapshot())));
    expect(again.childCount(parent.id)).toBe(2);
  });
});

describe("fileRegistryStore", () => {
  it("saves 0600 atomically and loads it back", () => {
    const dir = join(tempDir(), "state");
    const path = join(dir, "sessions.json");
    const store = fileRegistryStore(path);
    expect(store.load()).toBeUndefined();
    const r = new SessionRegistry();
    r.register(reg());
    store.save(r.snapshot());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(store.load()).toEqual(r.snapshot());
  });

  it("moves a corrupt file aside instead of overwriting it", () => {
    const dir = tempDir();
    const path = join(dir, "sessions.json");
    writeFileSync(path, "{not json", { mode: 0o600 });
    const said: string[] = [];
    expect(fileRegistryStore(path, (m) => said.push(m)).load()).toBeUndefined();
    expect(said[0]).toContain("not valid JSON");
    const aside = readdirSync(dir).find((f) => f.startsWith("sessions.json.corrupt-"));
    expect(aside).toBeDefined();
    expect(readFileSync(join(dir, aside!), "utf8")).toBe("{not json");
  });
});

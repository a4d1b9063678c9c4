/**
 * One peer's state machine, framing and write queue, without a socket: a fake transport records
 * what the daemon writes and whether it reads, and a fake scheduler stands in for timers.
 */
import { describe, expect, it } from "bun:test";
import { Connection, LastWord, type AuthOutcome, type ConnectionHooks, type Transport } from "../../src/daemon/connection.ts";
import type { Message } from "../../src/daemon/extension.ts";
import { WireError, errorFrame } from "../../src/daemon/protocol.ts";
import { FakeScheduler } from "../support/scheduler.ts";

class FakeTransport implements Transport {
  written: string[] = [];
  /** Bytes the kernel takes per write; Infinity takes all. */
  room = Number.POSITIVE_INFINITY;
  paused = false;
  ended = false;
  terminated = false;
  write(data: string | Uint8Array): number {
    const text = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
    const n = Math.min(Buffer.byteLength(text), this.room);
    if (n > 0) this.written.push(Buffer.from(text).subarray(0, n).toString("utf8"));
    this.room -= n;
    return n;
  }
  end() {
    this.ended = true;
  }
  terminate() {
    this.terminated = true;
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  /** Every complete frame written so far, parsed. */
  frames(): Message[] {
    return this.written
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }
}

const admin: AuthOutcome = { ok: true, admin: true, result: { type: "auth_result", ok: true } };

function setup(o: { authenticate?: ConnectionHooks["authenticate"]; maxQueued?: number; maxFrame?: number; mayLinger?: () => boolean } = {}) {
  const t = new FakeTransport();
  const s = new FakeScheduler();
  const warnings: string[] = [];
  const dispatched: Message[] = [];
  let closed = 0;
  const hooks: ConnectionHooks = {
    authenticate: o.authenticate ?? ((m) => (m.token === "good" ? admin : { ok: false, frame: { type: "auth_result", ok: false, error: "Invalid token" }, why: "wrong token" })),
    dispatch(c, m) {
      dispatched.push(m);
      c.send(`${JSON.stringify({ type: "pong", id: m.id })}\n`);
    },
    closed: () => void closed++,
    warn: (w) => void warnings.push(w),
    ...(o.mayLinger ? { mayLinger: o.mayLinger } : {}),
  };
  const c = new Connection(7, t, { maxFrame: o.maxFrame ?? 1024, authTimeoutMs: 5000, maxQueued: o.maxQueued ?? 1 << 20 }, hooks, s);
  return { c, t, s, warnings, dispatched, closedCount: () => closed };
}

const line = (m: unknown) => Buffer.from(`${JSON.stringify(m)}\n`);

describe("handshake", () => {
  it("authenticates, then dispatches the lines that came in the same chunk", () => {
    const { c, t, dispatched } = setup();
    c.receive(Buffer.concat([line({ type: "auth", token: "good" }), line({ type: "ping", id: 1 }), line({ type: "ping", id: 2 })]));
    expect(c.state).toBe("open");
    expect(c.info.admin).toBe(true);
    expect(dispatched.map((m) => m.id)).toEqual([1, 2]);
    expect(t.frames()).toEqual([{ type: "auth_result", ok: true }, { type: "pong", id: 1 }, { type: "pong", id: 2 }]);
  });

  it("refuses a wrong token: the refusal, then the socket ends on a later turn; nothing after it is read", () => {
    const { c, t, s, dispatched, closedCount, warnings } = setup();
    c.receive(Buffer.concat([line({ type: "auth", token: "bad" }), line({ type: "ping", id: 1 })]));
    expect(c.state).toBe("closed");
    expect(dispatched).toEqual([]);
    expect(t.frames()).toEqual([{ type: "auth_result", ok: false, error: "Invalid token" }]);
    expect(t.ended).toBe(false);
    s.advance(0);
    expect(t.ended).toBe(true);
    expect(closedCount()).toBe(1);
    expect(warnings).toEqual(["Connection 7: wrong token"]);
  });

  it.each([
    ["not JSON", "{nope\n", { type: "error", message: "Invalid JSON" }],
    ["not an object", "[1]\n", { type: "error", message: "Authentication required" }],
  ])("closes when the first line is %s", (_what, text, frame) => {
    const { c, t } = setup();
    c.receive(Buffer.from(text));
    expect(c.state).toBe("closed");
    expect(t.frames()).toEqual([frame]);
  });

  it("times out on the scheduler's clock, not before", () => {
    const { c, t, s } = setup();
    s.advance(4999);
    expect(c.state).toBe("pending");
    s.advance(1);
    expect(c.state).toBe("closed");
    expect(t.frames()).toEqual([{ type: "error", message: "Authentication timeout" }]);
  });

  it("an authenticated connection never times out", () => {
    const { c, s } = setup();
    c.receive(line({ type: "auth", token: "good" }));
    s.advance(60_000);
    expect(c.state).toBe("open");
    expect(s.pending).toBe(0);
  });

  it("holds lines while an asynchronous verdict is pending, with reading paused", async () => {
    let decide: (o: AuthOutcome) => void = () => {};
    const { c, t, dispatched } = setup({ authenticate: () => new Promise((r) => (decide = r)) });
    c.receive(Buffer.concat([line({ type: "auth", session: "x" }), line({ type: "ping", id: 1 })]));
    expect(c.state).toBe("authenticating");
    expect(t.paused).toBe(true);
    c.receive(line({ type: "ping", id: 2 }));
    expect(dispatched).toEqual([]);
    decide({ ok: true, admin: false, identity: { id: "s1" }, result: { type: "auth_result", ok: true, session: { id: "s1" } } });
    await Promise.resolve();
    expect(c.state).toBe("open");
    expect(t.paused).toBe(false);
    expect(c.info).toEqual({ id: 7, admin: false, identity: { id: "s1" } });
    expect(dispatched.map((m) => m.id)).toEqual([1, 2]);
  });

  it("a verdict that arrives after the timeout is ignored", async () => {
    let decide: (o: AuthOutcome) => void = () => {};
    const { c, s, dispatched } = setup({ authenticate: () => new Promise((r) => (decide = r)) });
    c.receive(line({ type: "auth", session: "x" }));
    s.advance(5000);
    expect(c.state).toBe("closed");
    decide(admin);
    await Promise.resolve();
    expect(c.state).toBe("closed");
    expect(dispatched).toEqual([]);
  });
});

describe("framing", () => {
  it("joins a frame split across chunks and closes on one over maxFrame", () => {
    const { c, t } = setup({ maxFrame: 64 });
    const auth = line({ type: "auth", token: "good" });
    c.receive(auth.subarray(0, 5));
    c.receive(auth.subarray(5));
    expect(c.state).toBe("open");
    c.receive(Buffer.from("x".repeat(65)));
    expect(c.state).toBe("closed");
    expect(t.frames().at(-1)).toEqual({ type: "error", message: "Frame too large" });
  });
});

describe("write queue", () => {
  it("queues what the kernel does not take and writes it on drain, in order", () => {
    const { c, t } = setup();
    c.receive(line({ type: "auth", token: "good" }));
    t.room = 10;
    c.receive(Buffer.concat([line({ type: "ping", id: 1 }), line({ type: "ping", id: 2 })]));
    expect(c.queued).toBeGreaterThan(0);
    t.room = Number.POSITIVE_INFINITY;
    c.drained();
    expect(c.queued).toBe(0);
    expect(t.frames().slice(1)).toEqual([{ type: "pong", id: 1 }, { type: "pong", id: 2 }]);
  });

  it("replies over the cap pause reading (never a disconnect); drain resumes and handles the rest", () => {
    const { c, t, dispatched } = setup({ maxQueued: 100 });
    c.receive(line({ type: "auth", token: "good" }));
    t.room = 0;
    const many = Buffer.concat(Array.from({ length: 50 }, (_, i) => line({ type: "ping", id: i + 1 })));
    c.receive(many);
    expect(t.paused).toBe(true);
    expect(c.backpressured).toBe(true);
    expect(c.state).toBe("open");
    const handled = dispatched.length;
    expect(handled).toBeLessThan(50);
    t.room = Number.POSITIVE_INFINITY;
    c.drained();
    expect(t.paused).toBe(false);
    expect(dispatched.length).toBe(50);
    expect(t.frames().slice(1).map((m) => m.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(t.terminated).toBe(false);
  });

  it("an event over the cap cuts the subscriber off", () => {
    const { c, t, warnings } = setup({ maxQueued: 100 });
    c.receive(line({ type: "auth", token: "good" }));
    t.room = 0;
    c.send(Buffer.from("e".repeat(60)), "event");
    expect(c.state).toBe("open");
    c.send(Buffer.from("e".repeat(60)), "event");
    expect(c.state).toBe("closed");
    expect(t.terminated).toBe(true);
    expect(warnings.at(-1)).toContain("bytes queued and not read (limit 100)");
  });
});

describe("the last frame, then the close", () => {
  it("closes as soon as the peer's next bytes are read, without waiting for a timer", () => {
    const { c, t, s } = setup();
    c.receive(line({ type: "auth", token: "bad" }));
    expect(t.ended).toBe(false);
    c.receive(line({ type: "ping", id: 1 })); // the peer's bytes in flight, read and dropped
    expect(t.ended).toBe(true);
    expect(s.pending).toBe(0);
    expect(t.frames()).toEqual([{ type: "auth_result", ok: false, error: "Invalid token" }]);
  });

  it("a refused peer: the frame at once, the close on its first bytes or on the next turn, once", () => {
    const heard = new FakeTransport();
    const hs = new FakeScheduler();
    const w = new LastWord(heard, { type: "error", message: "Too many connections" }, hs);
    expect(heard.frames()).toEqual([{ type: "error", message: "Too many connections" }]);
    expect(heard.ended).toBe(false);
    w.heard();
    expect(heard.ended).toBe(true);
    expect(hs.pending).toBe(0);

    const silent = new FakeTransport();
    const ss = new FakeScheduler();
    const quiet = new LastWord(silent, { type: "error", message: "Too many connections" }, ss);
    ss.advance(0);
    expect(silent.ended).toBe(true);
    let ends = 0;
    silent.end = () => void ends++;
    quiet.heard();
    ss.advance(10);
    expect(ends).toBe(0);
  });

  it("when the daemon says no more may linger, the frame is written and the socket closed at once", () => {
    const { c, t, s } = setup({ mayLinger: () => false });
    c.receive(line({ type: "auth", token: "bad" }));
    expect(t.frames()).toEqual([{ type: "auth_result", ok: false, error: "Invalid token" }]);
    expect(t.terminated).toBe(true);
    expect(s.pending).toBe(0);
  });

  it("a connection paused for backpressure reads again while it closes, so its peer's bytes can be heard", () => {
    const { c, t } = setup({ maxQueued: 100 });
    c.receive(line({ type: "auth", token: "good" }));
    t.room = 0;
    c.receive(Buffer.concat(Array.from({ length: 50 }, (_, i) => line({ type: "ping", id: i + 1 }))));
    expect(t.paused).toBe(true);
    t.room = Number.POSITIVE_INFINITY;
    c.closeWith(errorFrame(WireError.evicted));
    expect(t.paused).toBe(false);
    c.receive(line({ type: "ping", id: 51 }));
    expect(t.ended).toBe(true);
  });
});

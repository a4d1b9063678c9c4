import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { FrameSplitter, WireError, encode, errorFrame, escapeLogText, parseMessage, parsePublish, parseTopics, reply, wireCodeOf } from "../../src/daemon/protocol.ts";
import { escapingLogger } from "../../src/daemon/protocol.ts";

describe("FrameSplitter", () => {
  it("splits lines across arbitrary chunk boundaries", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\n") && !s.endsWith("\r")), { maxLength: 20 }), fc.array(fc.nat(30), { maxLength: 10 }), (lines, cuts) => {
        const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(""));
        const s = new FrameSplitter(1000);
        const out: string[] = [];
        let pos = 0;
        for (const c of cuts) {
          const end = Math.min(bytes.length, pos + c);
          out.push(...s.push(bytes.subarray(pos, end)));
          pos = end;
        }
        out.push(...s.push(bytes.subarray(pos)));
        expect(out).toEqual(lines);
        expect(s.buffered).toBe(0);
      }),
    );
  });

  it("keeps a multi-byte character split across chunks intact", () => {
    const s = new FrameSplitter();
    const b = Buffer.from('{"a":"é€"}\n');
    expect([...s.push(b.subarray(0, 8)), ...s.push(b.subarray(8))]).toEqual(['{"a":"é€"}']);
  });

  it.each([
    ["a line of exactly maxFrame bytes passes", "x".repeat(10) + "\n", false],
    ["a complete line over maxFrame is refused", "x".repeat(11) + "\n", true],
    ["an unfinished line over maxFrame is refused before its newline", "x".repeat(11), true],
  ])("%s", (_name, input, tooLarge) => {
    const s = new FrameSplitter(10);
    s.push(Buffer.from(input));
    expect(s.tooLarge).toBe(tooLarge);
  });

  it("stops buffering once too large", () => {
    const s = new FrameSplitter(10);
    for (let i = 0; i < 100; i++) s.push(Buffer.from("y".repeat(7)));
    expect(s.tooLarge).toBe(true);
    expect(s.buffered).toBeLessThanOrEqual(10);
    expect(s.push(Buffer.from("ok\n"))).toEqual([]);
  });

  it("skips empty lines and tolerates CRLF", () => {
    expect(new FrameSplitter().push(Buffer.from('\n{"type":"ping"}\r\n\n'))).toEqual(['{"type":"ping"}']);
  });
});

describe("parseMessage", () => {
  it.each([
    ['{"type":"ping","id":1}', { ok: true, message: { type: "ping", id: 1 } }],
    ["{not json", { ok: false, error: WireError.invalidJson }],
    ["42", { ok: false, error: WireError.invalidMessage }],
    ["[]", { ok: false, error: WireError.invalidMessage }],
    ["null", { ok: false, error: WireError.invalidMessage }],
    ['{"type":7}', { ok: false, error: WireError.invalidMessage }],
    ['{"id":1}', { ok: false, error: WireError.invalidMessage }],
  ])("%s", (line, expected) => {
    expect(parseMessage(line)).toEqual(expected as never);
  });
});

describe("responses", () => {
  it("echo the request id, and omit it when the request had none", () => {
    expect(reply({ type: "ping", id: "a" }, { type: "pong" })).toEqual({ type: "pong", id: "a" });
    expect(reply({ type: "ping" }, { type: "pong" })).toEqual({ type: "pong" });
    expect(errorFrame("x", { type: "t", id: 3 })).toEqual({ type: "error", id: 3, message: "x" });
    expect(encode({ type: "pong" })).toBe('{"type":"pong"}\n');
  });
  it("validate subscribe topics and publish", () => {
    expect(parseTopics(undefined)).toEqual({ ok: true, topics: undefined });
    expect(parseTopics(["a"])).toEqual({ ok: true, topics: ["a"] });
    expect(parseTopics("a").ok).toBe(false);
    expect(parseTopics([1]).ok).toBe(false);
    expect(parsePublish({ type: "publish", topic: "t", data: { x: 1 } })).toEqual({ ok: true, topic: "t", data: { x: 1 } });
    expect(parsePublish({ type: "publish" }).ok).toBe(false);
  });
});

describe("error codes", () => {
  it("adds a code to the frame, with or without a request id", () => {
    expect(errorFrame("no", { type: "x", id: 3 }, "session.not_allowed")).toEqual({ type: "error", id: 3, message: "no", code: "session.not_allowed" });
    expect(errorFrame("no", undefined, "session.limit")).toEqual({ type: "error", message: "no", code: "session.limit" });
    expect(errorFrame("no")).toEqual({ type: "error", message: "no" });
  });

  it("takes an error's wireCode only when it has the dotted form (never a Node errno code)", () => {
    expect(wireCodeOf(Object.assign(new Error("x"), { wireCode: "session.not_allowed" }))).toBe("session.not_allowed");
    expect(wireCodeOf(Object.assign(new Error("x"), { code: "ENOENT" }))).toBeUndefined();
    expect(wireCodeOf(Object.assign(new Error("x"), { wireCode: "Bad Code\n" }))).toBeUndefined();
    expect(wireCodeOf("session.limit")).toBeUndefined();
  });
});

describe("log escaping", () => {
  it.each([
    ["ping\nFORGED line", "ping\\nFORGED line"],
    ["a\r\nb", "a\\r\\nb"],
    ["\u001b[2Kclear", "\\u001b[2Kclear"],
    ["tab\there", "tab\\there"],
    ["nul\u0000", "nul\\u0000"],
    ["line\u2028sep", "line\\u2028sep"],
    ["name\u202egnp.exe", "name\\u202egnp.exe"],
    ["isolate\u2066x\u2069", "isolate\\u2066x\\u2069"],
    ["plain text / with: punctuation", "plain text / with: punctuation"],
  ])("%j is logged as %j", (raw, logged) => {
    expect(escapeLogText(raw)).toBe(logged);
  });

  it("never leaves a control or bidi character, and cuts long text", () => {
    const bad: number[] = [];
    for (let c = 0; c <= 0x3000; c++) if (/[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(escapeLogText(`a${String.fromCharCode(c)}b`))) bad.push(c);
    expect(bad).toEqual([]);
    expect(escapeLogText("x".repeat(5000)).length).toBeLessThan(2100);
  });

  it("the daemon's logger escapes every string it is given", () => {
    const lines: string[] = [];
    const log = escapingLogger({ info: (...a) => lines.push(a.join(" ")), warn() {}, error() {}, debug() {} });
    log.info("Connection 1: first message was", "a\nFORGED");
    expect(lines).toEqual(["Connection 1: first message was a\\nFORGED"]);
  });
});

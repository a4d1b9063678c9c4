import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { FrameSplitter, WireError, encode, errorFrame, parseMessage, parsePublish, parseTopics, reply } from "../../src/daemon/protocol.ts";

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

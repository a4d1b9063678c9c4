/**
 * Property tests for the wire protocol's parsers and the handshake decision (issue 7, "Bad input,
 * everywhere"): arbitrary bytes, invalid UTF-8, huge lines and arbitrary JSON must end in a result
 * or one of the documented wire errors, never in a throw.
 */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { checkAuth, generateToken, tokenDigest } from "../../src/daemon/auth.ts";
import { FrameSplitter, WireError, encode, errorFrame, parseMessage, parsePublish, parseTopics, reply } from "../../src/daemon/protocol.ts";
import { anyLine, anyValue, RUNS } from "../support/fuzz.ts";

/** Bytes that favour the ones the splitter cares about: LF, CR, UTF-8 lead/continuation bytes, 0xff. */
const byte = fc.oneof(fc.constantFrom(0x0a, 0x0d, 0x0a, 0xff, 0xc3, 0xa9, 0xe2, 0x80, 0x7b, 0x22, 0x00), fc.integer({ min: 0, max: 255 }));
const bytes = fc.array(byte, { maxLength: 200 }).map((a) => Uint8Array.from(a));

/** Feed `input` in chunks cut at `cuts`; returns the lines, the flag and what stayed buffered. */
function feed(maxFrame: number, input: Uint8Array, cuts: number[]) {
  const s = new FrameSplitter(maxFrame);
  const lines: string[] = [];
  let pos = 0;
  for (const c of [...cuts, input.length]) {
    const end = Math.min(input.length, pos + c);
    const got = s.push(input.subarray(pos, end));
    if (s.tooLarge) expect(s.push(Uint8Array.of(0x0a))).toEqual([]); // nothing after the flag
    lines.push(...got);
    pos = end;
  }
  return { lines, tooLarge: s.tooLarge, buffered: s.buffered };
}

/** What the splitter must produce, from the whole input at once: the reference model. */
function model(maxFrame: number, input: Uint8Array) {
  const buf = Buffer.from(input);
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl === -1) break;
    if (nl - start > maxFrame) return { lines, tooLarge: true };
    let end = nl;
    if (end > start && buf[end - 1] === 0x0d) end--;
    if (end > start) lines.push(buf.toString("utf8", start, end));
    start = nl + 1;
  }
  return { lines, tooLarge: buf.length - start > maxFrame, rest: buf.length - start };
}

describe("FrameSplitter over arbitrary bytes", () => {
  it(`${RUNS} inputs: same lines and verdict as the model, whatever the chunking; never throws`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 48 }), bytes, fc.array(fc.nat(40), { maxLength: 12 }), (maxFrame, input, cuts) => {
        const got = feed(maxFrame, input, cuts);
        const want = model(maxFrame, input);
        expect(got.tooLarge).toBe(want.tooLarge);
        if (!want.tooLarge) {
          expect(got.lines).toEqual(want.lines);
          expect(got.buffered).toBe(want.rest!);
        } else {
          // Lines before the oversized one still came out, in order.
          expect(want.lines.slice(0, got.lines.length)).toEqual(got.lines);
        }
        expect(got.buffered).toBeLessThanOrEqual(maxFrame);
      }),
      { numRuns: RUNS },
    );
  });

  it("huge lines (up to 4x the 64 KiB limit, in random chunks) are flagged and never buffered past the limit", () => {
    fc.assert(
      fc.property(fc.integer({ min: 65_537, max: 262_144 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }), fc.boolean(), (size, cuts, newline) => {
        const input = new Uint8Array(size + (newline ? 1 : 0)).fill(0x41);
        if (newline) input[size] = 0x0a;
        const got = feed(65_536, input, cuts);
        expect(got.tooLarge).toBe(true);
        expect(got.lines).toEqual([]);
        expect(got.buffered).toBeLessThanOrEqual(65_536);
      }),
      { numRuns: 200 },
    );
  });
});

describe("parseMessage over arbitrary lines", () => {
  it(`${RUNS} lines (text, invalid UTF-8 decoded, JSON of every type): a message with a string type, or one documented error`, () => {
    fc.assert(
      fc.property(anyLine, (line) => {
        const parsed = parseMessage(line);
        if (parsed.ok) {
          expect(typeof parsed.message).toBe("object");
          expect(Array.isArray(parsed.message)).toBe(false);
          expect(typeof parsed.message.type).toBe("string");
          // Whatever parsed must be answerable: reply/encode/errorFrame never throw on it.
          const frame = encode(reply(parsed.message, { type: "pong" }));
          expect(frame.endsWith("\n")).toBe(true);
          expect(JSON.parse(frame).type).toBe("pong");
          expect(JSON.parse(encode(errorFrame("x", parsed.message))).type).toBe("error");
          expect(parseTopics(parsed.message.topics)).toHaveProperty("ok");
          expect(parsePublish(parsed.message)).toHaveProperty("ok");
        } else {
          expect<string[]>([WireError.invalidJson, WireError.invalidMessage]).toContain(parsed.error);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS} JSON values as topics / publish bodies: validated, never thrown`, () => {
    fc.assert(
      fc.property(anyValue, anyValue, (topics, topic) => {
        const t = parseTopics(topics);
        if (t.ok) expect(t.topics === undefined || t.topics.every((x) => typeof x === "string" && x !== "")).toBe(true);
        const p = parsePublish({ type: "publish", topic, data: topics });
        expect(p.ok).toBe(typeof topic === "string" && topic !== "");
      }),
      { numRuns: RUNS },
    );
  });
});

describe("checkAuth over arbitrary first messages", () => {
  const token = generateToken();
  const digest = tokenDigest(token);

  it(`${RUNS} messages: accepted only with the exact token string, never throws`, () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ type: fc.constantFrom("auth", "ping", "Auth", "auth "), token: anyValue }, { requiredKeys: ["type"] }),
          fc.record({ type: fc.constant("auth"), token: fc.oneof(fc.constant(token), fc.constant(token.toUpperCase()), fc.constant(`${token} `), fc.constant(token.slice(1))) }),
          fc.record({ type: fc.constant("auth"), session: anyValue, token: fc.constant(undefined) }, { requiredKeys: ["type", "session"] }),
        ),
        (message) => {
          const verdict = checkAuth(message as Record<string, unknown>, digest);
          if (message.type !== "auth") expect(verdict).toEqual({ kind: "not-auth" });
          else if (!Object.hasOwn(message, "token")) expect(verdict).toEqual({ kind: "other-credential" });
          else expect(verdict).toEqual({ kind: "token", ok: message.token === token });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

/**
 * The handshake and dispatch over a real Unix socket, fuzzed: each generated connection sends an
 * arbitrary first line (bytes, invalid UTF-8, JSON of any shape, sometimes the right token or a
 * session credential) and arbitrary later lines. Every connection must end in documented frames
 * only, the daemon must never throw out of a handler, and it must still answer afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import fc from "fast-check";
import { startDaemon, type DaemonHandle } from "../../src/daemon/server.ts";
import { createSessionExtension } from "../../src/session/extension.ts";
import { mintToken } from "../../src/session/token.ts";
import { anyLine, anyValue } from "../support/fuzz.ts";
import { tempDir } from "../support/tmp.ts";

/** Over a socket each case costs a connection; 2,000 keeps the file near a second. */
const SOCKET_RUNS = 2_000;

let d: DaemonHandle;
let sessionToken: string;
const logged: string[] = [];
beforeAll(async () => {
  const dir = join(tempDir("tokenctl-hs-"), "run");
  const ext = createSessionExtension({ store: null, isAlive: () => true });
  d = await startDaemon({
    socketPath: join(dir, "s.sock"),
    tokenFile: join(dir, "t"),
    extensions: [ext],
    maxFrame: 4096,
    log: { info() {}, warn() {}, debug() {}, error: (...a: unknown[]) => void logged.push(a.map(String).join(" ")) },
  });
  sessionToken = mintToken();
  ext.registry.register({ token: sessionToken, pid: process.pid, scope: "fuzz" });
});
afterAll(() => d.stop());

/** Send `payload`, then a marker ping; collect frames until the daemon closes or answers the marker. */
function exchange(payload: Buffer): Promise<{ frames: unknown[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const frames: unknown[] = [];
    let done = false;
    const finish = (closed: boolean, s?: { end(): void }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s?.end();
      resolve({ frames, closed });
    };
    const timer = setTimeout(() => reject(new Error(`no answer for ${JSON.stringify(payload.toString("latin1").slice(0, 200))}`)), 3000);
    Bun.connect({
      unix: d.socketPath,
      socket: {
        open(s) {
          s.write(Buffer.concat([payload, Buffer.from('\n{"type":"ping","id":"marker-7f3a"}\n')]));
        },
        data(s, chunk) {
          buf += chunk.toString("utf8");
          let i: number;
          while ((i = buf.indexOf("\n")) !== -1) {
            const frame = JSON.parse(buf.slice(0, i)); // every frame must be JSON: a throw here fails the test
            buf = buf.slice(i + 1);
            frames.push(frame);
            if (frame.type === "pong" && frame.id === "marker-7f3a") finish(false, s);
          }
        },
        close() {
          finish(true);
        },
        error(_s, e) {
          reject(e);
        },
      },
    }).catch(reject);
  });
}

const FIRST_ERRORS = new Set(["Invalid JSON", "Authentication required", "Frame too large", "Authentication timeout"]);

describe("handshake over a real socket", () => {
  it(`${SOCKET_RUNS} connections with arbitrary first and later lines end in documented frames; the daemon keeps answering`, async () => {
    const first = fc.oneof(
      anyLine,
      anyValue.map((token) => JSON.stringify({ type: "auth", token })),
      anyValue.map((session) => JSON.stringify({ type: "auth", session })),
      fc.constant(null).map(() => JSON.stringify({ type: "auth", token: d.token })),
      fc.constant(null).map(() => JSON.stringify({ type: "auth", session: sessionToken })),
      fc.nat({ max: 6000 }).map((n) => "x".repeat(n)),
    );
    const later = fc.oneof(
      anyLine,
      fc.record(
        {
          type: fc.constantFrom("ping", "status", "subscribe", "unsubscribe", "publish", "auth", "session.register", "session.resolve", "session.list", "session.revoke", "oauth.token", "nope"),
          id: anyValue,
          token: anyValue,
          topics: anyValue,
          topic: anyValue,
          scope: anyValue,
          sessionId: anyValue,
          pid: anyValue,
          name: anyValue,
          profile: anyValue,
        },
        { requiredKeys: ["type"] },
      ).map((m) => JSON.stringify(m)),
    );
    await fc.assert(
      fc.asyncProperty(first, fc.array(later, { maxLength: 4 }), fc.boolean(), async (line, rest, crlf) => {
        const nl = crlf ? "\r\n" : "\n";
        const { frames, closed } = await exchange(Buffer.from([line, ...rest].join(nl)));
        for (const f of frames) {
          expect(typeof f).toBe("object");
          const frame = f as Record<string, unknown>;
          expect(typeof frame.type).toBe("string");
          if (frame.type === "error") expect(typeof frame.message).toBe("string");
        }
        if (closed) {
          // A refused connection gets one last frame saying why, and it is a documented one.
          const last = frames.at(-1) as Record<string, unknown> | undefined;
          if (last && last.type === "error" && frames.length === 1) expect(FIRST_ERRORS).toContain(last.message as string);
          if (last && last.type === "auth_result") expect(last).toMatchObject({ ok: false, error: "Invalid token" });
        }
      }),
      { numRuns: SOCKET_RUNS },
    );
    expect(logged).toEqual([]); // no extension blew up judging or serving a message
    const again = await exchange(Buffer.from(JSON.stringify({ type: "auth", token: d.token })));
    expect(again.closed).toBe(false);
    expect(d.stats().open).toBeLessThanOrEqual(1);
  }, 60_000);
});

/**
 * A fake socket peer: a raw Unix-socket client with no project code in it, so daemon tests check
 * the wire protocol itself, byte for byte, the way another program would speak it.
 */
import { connect, type Socket } from "node:net";

export interface RawPeer {
  socket: Socket;
  /** Write raw text (add "\n" yourself to end a frame). */
  write(text: string | Buffer): void;
  /** Write one JSON frame. */
  send(value: unknown): void;
  /** The next line received, parsed as JSON; rejects on timeout or if the connection closes first. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Lines received so far and not yet taken by next(). */
  received: string[];
  /** Resolves when the daemon closes the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  end(): void;
}

/** Connect to a Unix socket; resolves once connected. */
export function rawConnect(path: string): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const received: string[] = [];
    let buf = "";
    let waiter: (() => void) | undefined;
    let closed = false;
    const closedP = new Promise<void>((r) => socket.on("close", () => {
      closed = true;
      waiter?.();
      r();
    }));
    socket.on("data", (d) => {
      buf += d.toString("utf8");
      let i: number;
      while ((i = buf.indexOf("\n")) !== -1) {
        received.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      waiter?.();
    });
    socket.on("error", (e) => {
      if (!closed) reject(e);
    });
    socket.on("connect", () =>
      resolve({
        socket,
        received,
        closed: closedP,
        isClosed: () => closed,
        write: (t) => void socket.write(t),
        send: (v) => void socket.write(`${JSON.stringify(v)}\n`),
        end: () => void socket.end(),
        async next(timeoutMs = 3000) {
          const deadline = Date.now() + timeoutMs;
          while (received.length === 0) {
            if (closed) throw new Error("connection closed with no further line");
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no line within ${timeoutMs} ms`);
            await new Promise<void>((r) => {
              const t = setTimeout(r, left);
              waiter = () => {
                clearTimeout(t);
                r();
              };
            });
            waiter = undefined;
          }
          return JSON.parse(received.shift()!);
        },
      }),
    );
  });
}

/** Connect and authenticate; asserts nothing, returns the peer and the auth answer. */
export async function authedPeer(path: string, token: string): Promise<RawPeer> {
  const p = await rawConnect(path);
  p.send({ type: "auth", token });
  const r = await p.next();
  if (r.type !== "auth_result" || r.ok !== true) throw new Error(`auth failed: ${JSON.stringify(r)}`);
  return p;
}

/** One authenticated request on a fresh connection: auth, send, the answer frame, close. */
export async function requestOnce(path: string, token: string, message: unknown): Promise<Record<string, unknown>> {
  const p = await authedPeer(path, token);
  try {
    p.send(message);
    return await p.next();
  } finally {
    p.end();
  }
}

/** Resolve when `cond()` is true, polling; throws after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

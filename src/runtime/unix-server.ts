/**
 * The daemon's Unix-socket edge: Bun.listen and Bun.connect behind a small interface, so the
 * daemon's code (src/daemon/) uses no Bun API. The daemon runs on Bun only (the compiled
 * `tokenctl` binary); under Node or Deno, unixServerSupported() is false and `tokenctl daemon`
 * says to run the binary. Clients use node:net and work everywhere.
 */
import { readdirSync, readFileSync } from "node:fs";

/** One accepted connection, as the daemon sees it. */
export interface PeerSocket {
  /** Bytes the kernel took (fewer than given when its buffer is full; drain follows). */
  write(data: string | Uint8Array): number;
  /** Close after what was written. */
  end(): void;
  /** Close now, dropping what is unsent. */
  terminate(): void;
  /** Stop reading from the peer (backpressure); resume() reads again. */
  pause(): void;
  resume(): void;
  /** The connected socket's fd, for SO_PEERCRED; undefined when the runtime does not say. */
  readonly fd: number | undefined;
}

/** What the server calls for each connection; `key` is the value open() returned. */
export interface UnixServerHandlers<K> {
  /** A connection was accepted; return a key for the other calls, or undefined when it was closed. */
  open(socket: PeerSocket): K | undefined;
  data(key: K, chunk: Buffer): void;
  /** The kernel took everything queued so far: write more. */
  drain(key: K): void;
  close(key: K): void;
  error(key: K, error: Error): void;
}

export interface UnixListener {
  /** Stop accepting, and with closeActive also close every connection. */
  stop(closeActive?: boolean): void;
}

/** Whether this runtime can serve a Unix socket (Bun only), by feature: `Bun.listen` exists. */
export function unixServerSupported(scope: { Bun?: { listen?: unknown } } = globalThis as { Bun?: { listen?: unknown } }): boolean {
  return typeof scope.Bun?.listen === "function";
}

type BunSocket<K> = import("bun").Socket<BunPeer<K>>;

/** One accepted Bun socket as a PeerSocket; it also carries the daemon's key for it. */
class BunPeer<K> implements PeerSocket {
  key: K | undefined;
  constructor(private readonly socket: BunSocket<K>) {}
  write(data: string | Uint8Array): number {
    return this.socket.write(data);
  }
  end(): void {
    this.socket.end();
  }
  terminate(): void {
    this.socket.terminate();
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  get fd(): number | undefined {
    const fd = (this.socket as unknown as { fd?: number }).fd;
    return typeof fd === "number" && fd >= 0 ? fd : undefined;
  }
}

/** Listen on `path` (which must not exist); the caller sets the umask around this call. */
export function listenUnix<K>(path: string, handlers: UnixServerHandlers<K>): UnixListener {
  const listener = Bun.listen<BunPeer<K>>({
    unix: path,
    socket: {
      open(socket: BunSocket<K>) {
        const peer = new BunPeer<K>(socket);
        socket.data = peer;
        peer.key = handlers.open(peer);
      },
      data(socket: BunSocket<K>, chunk: Buffer) {
        const k = socket.data?.key;
        if (k !== undefined) handlers.data(k, chunk);
      },
      drain(socket: BunSocket<K>) {
        const k = socket.data?.key;
        if (k !== undefined) handlers.drain(k);
      },
      close(socket: BunSocket<K>) {
        const k = socket.data?.key;
        if (k !== undefined) handlers.close(k);
      },
      error(socket: BunSocket<K>, error: Error) {
        const k = socket.data?.key;
        if (k !== undefined) handlers.error(k, error);
      },
    },
  });
  return { stop: (closeActive = false) => listener.stop(closeActive) };
}

/** Whether something accepts connections on `path`; a path that does not answer in time counts as live. */
export async function unixAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const socket = await Promise.race([
      Bun.connect({ unix: path, socket: { data() {}, error() {} } }),
      new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), timeoutMs);
      }),
    ]);
    // Something holds the path but does not accept in time: treat as live rather than delete it.
    if (socket === "timeout") return true;
    socket.end();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The soft open-file limit (RLIMIT_NOFILE) and how many fds are open now, where the platform tells
 * (Linux /proc); undefined elsewhere. The daemon keeps its connections within this budget: at
 * EMFILE the runtime's accept loop would retry without end.
 */
export function fileBudget(): { limit: number; open: number } | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (!m || m[1] === "unlimited") return undefined;
    return { limit: Number(m[1]), open: readdirSync("/proc/self/fd").length };
  } catch {
    return undefined;
  }
}

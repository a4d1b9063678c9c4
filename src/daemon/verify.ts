/**
 * Is the server on a socket one we may trust? The client asks before it sends anything secret:
 * the socket path (owner and every directory above it) and, where the platform tells, the uid of
 * the process serving it.
 */
import type { Socket } from "node:net";
import { InsecureFileError, NotFoundError, UnavailableError } from "../errors.ts";
import { checkTrustedPath, trustedOwner, UntrustedPathError } from "../fs/trust.ts";
// peerUid is undefined where the runtime gives no peer credentials (no FFI): the path checks remain the guard.
import { peerUid } from "../runtime/peercred.ts";

/**
 * The server on the socket is not one we may trust: the socket or a directory above it belongs to
 * another user, the process serving it runs as another user, or it accepted a connection that
 * offered no credential. Exit 2, like any unsafe file: nothing was sent.
 */
export class UntrustedDaemonError extends InsecureFileError {
  override name = "UntrustedDaemonError";
}

/** The fd under a connected node:net socket (Node and Bun expose it as `_handle.fd`), when there is one. */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * The uid of the process serving `socket` when the platform can tell, else undefined. Throws
 * UntrustedDaemonError when it is neither us nor root.
 */
export async function verifyPeer(socket: Socket, socketPath: string, me = process.getuid?.() ?? -1): Promise<number | undefined> {
  if (me < 0) return undefined;
  const fd = socketFd(socket);
  const uid = fd === undefined ? undefined : peerUid(fd);
  if (uid !== undefined && !trustedOwner(uid, me))
    throw new UntrustedDaemonError(`Refusing the daemon on ${socketPath}: the process serving it runs as uid ${uid}, neither you (uid ${me}) nor root; nothing was sent`, {
      hint: `Connect to your own daemon: unset TOKENCTL_SOCKET (or --socket) and run tokenctl daemon`,
    });
  return uid;
}

/**
 * Check the socket path before connecting: the socket owned by us or root, every directory above
 * it ours or root's and not writable by others. A missing socket is "no daemon" (exit 5).
 */
export function verifySocketPath(socketPath: string): void {
  try {
    checkTrustedPath(socketPath, `the daemon socket ${socketPath}`);
  } catch (e) {
    if (e instanceof NotFoundError)
      throw new UnavailableError(`No tokenctl daemon answers on ${socketPath} (ENOENT)`, { cause: e, hint: `Start one: tokenctl daemon --socket ${socketPath}` });
    if (e instanceof UntrustedPathError)
      throw new UntrustedDaemonError(`${e.message}; nothing was sent to ${socketPath}`, {
        cause: e,
        hint: e.component === socketPath ? `Connect to your own daemon: unset TOKENCTL_SOCKET (or --socket) and run tokenctl daemon` : e.hint,
      });
    throw e;
  }
}


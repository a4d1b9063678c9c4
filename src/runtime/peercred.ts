/**
 * The uid of the process on the other end of a connected Unix socket: SO_PEERCRED through
 * getsockopt(2) on Linux, getpeereid(3) from libSystem on macOS (and libc on FreeBSD), called
 * through bun:ffi on the fd the socket exposes. ssh-agent makes the same check on every accept; the
 * 0700 directory and 0600 socket remain the first guard. Under Node and Deno there is no FFI we
 * load, so peer credentials are unsupported there and the path checks are the guard.
 */
import { type Ffi, loadBunFfi, openLibc } from "./ffi.ts";
import { type Platform, platform } from "./platform.ts";

/** Linux's SOL_SOCKET and SO_PEERCRED (the generic values: x86, arm, riscv). */
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

type PeerUidFn = (fd: number) => number | undefined;

/**
 * The peer-uid reader for `p`, or null when this platform has none. `ffi` is injectable so each
 * OS branch is tested over a fake library (no Mac runs the tests).
 */
export function loadPeerUid(p: Platform, ffi: Pick<Ffi, "dlopen"> | null = loadBunFfi(p) ?? null): PeerUidFn | null {
  if (!ffi) return null;
  try {
    if (p.os === "linux") {
      const opened = openLibc(ffi, p.os, {
        getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
      });
      if ("error" in opened) return null;
      const getsockopt = opened.lib.symbols.getsockopt as (fd: number, level: number, name: number, out: Int32Array, len: Uint32Array) => number;
      // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
      const cred = new Int32Array(3);
      const len = new Uint32Array([12]);
      return (fd) => {
        len[0] = 12;
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) === 0 ? cred[1] : undefined;
      };
    }
    if (p.os === "darwin" || p.os === "freebsd") {
      const opened = openLibc(ffi, p.os, {
        getpeereid: { args: ["i32", "ptr", "ptr"], returns: "i32" },
      });
      if ("error" in opened) return null;
      const getpeereid = opened.lib.symbols.getpeereid as (fd: number, uid: Uint32Array, gid: Uint32Array) => number;
      const uid = new Uint32Array(1);
      const gid = new Uint32Array(1);
      return (fd) => (getpeereid(fd, uid, gid) === 0 ? uid[0] : undefined);
    }
  } catch {
    // No libc through FFI (unusual builds): fall back to the directory and socket permissions.
  }
  return null;
}

let impl: PeerUidFn | null | undefined;

/** Whether this platform lets us read peer credentials at all. */
export function peerCredentialsSupported(): boolean {
  if (impl === undefined) impl = loadPeerUid(platform());
  return impl !== null;
}

/** The peer's uid for a connected Unix socket fd, or undefined when it cannot be read. */
export function peerUid(fd: number): number | undefined {
  if (impl === undefined) impl = loadPeerUid(platform());
  if (impl === null || !Number.isInteger(fd) || fd < 0) return undefined;
  return impl(fd);
}

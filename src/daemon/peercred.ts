/**
 * The uid of the process on the other end of a Unix socket: SO_PEERCRED on Linux, getpeereid(3)
 * on macOS and the BSDs, called through bun:ffi on the fd Bun's socket exposes. ssh-agent makes the
 * same check on every accept; the 0700 directory and 0600 socket remain the first guard.
 */
import { dlopen, FFIType } from "bun:ffi";

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

type PeerUidFn = (fd: number) => number | undefined;

let impl: PeerUidFn | null | undefined;

function load(): PeerUidFn | null {
  try {
    if (process.platform === "linux") {
      let lib: ReturnType<typeof dlopenLinux> | undefined;
      for (const name of ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
        try {
          lib = dlopenLinux(name);
          break;
        } catch {
          // Try the next libc name (glibc, then musl).
        }
      }
      if (!lib) return null;
      const getsockopt = lib.symbols.getsockopt;
      // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
      const cred = new Int32Array(3);
      const len = new Uint32Array([12]);
      return (fd) => {
        len[0] = 12;
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) === 0 ? cred[1] : undefined;
      };
    }
    if (process.platform === "darwin" || process.platform === "freebsd") {
      const lib = dlopen(process.platform === "darwin" ? "/usr/lib/libSystem.B.dylib" : "libc.so.7", {
        getpeereid: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
      });
      const uid = new Uint32Array(1);
      const gid = new Uint32Array(1);
      return (fd) => (lib.symbols.getpeereid(fd, uid, gid) === 0 ? uid[0] : undefined);
    }
  } catch {
    // No libc through FFI (unusual builds): fall back to the directory and socket permissions.
  }
  return null;
}

function dlopenLinux(name: string) {
  return dlopen(name, {
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  });
}

/** Whether this platform lets us read peer credentials at all. */
export function peerCredentialsSupported(): boolean {
  if (impl === undefined) impl = load();
  return impl !== null;
}

/** The peer's uid for a connected Unix socket fd, or undefined when it cannot be read. */
export function peerUid(fd: number): number | undefined {
  if (impl === undefined) impl = load();
  if (impl === null || !Number.isInteger(fd) || fd < 0) return undefined;
  return impl(fd);
}

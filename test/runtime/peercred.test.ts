/** Peer credentials: each platform branch over a fake FFI library (no Mac runs the tests). */
import { expect, test } from "bun:test";
import { loadPeerUid } from "../../src/runtime/peercred.ts";

function fakeFfi(symbols: Record<string, (...a: never[]) => number>, fail: string[] = []) {
  const opened: { name: string; symbols: string[] }[] = [];
  return {
    opened,
    ffi: {
      dlopen(name: string, wanted: Record<string, unknown>) {
        opened.push({ name, symbols: Object.keys(wanted) });
        if (fail.includes(name)) throw new Error(`no ${name}`);
        return { symbols, close() {} };
      },
    } as never,
  };
}

test("macOS: getpeereid from libSystem, the uid it writes", () => {
  const { ffi, opened } = fakeFfi({
    getpeereid: (fd: number, uid: Uint32Array, gid: Uint32Array) => {
      if (fd !== 7) return -1;
      uid[0] = 501;
      gid[0] = 20;
      return 0;
    },
  } as never);
  const read = loadPeerUid({ runtime: "bun", os: "darwin" }, ffi)!;
  expect(opened).toEqual([{ name: "/usr/lib/libSystem.B.dylib", symbols: ["getpeereid"] }]);
  expect(read(7)).toBe(501);
  expect(read(8)).toBeUndefined(); // getpeereid failed: unknown, not uid 0
});

test("Linux: getsockopt(SOL_SOCKET, SO_PEERCRED) reading the uid from struct ucred; musl when glibc is missing", () => {
  const calls: number[][] = [];
  const { ffi, opened } = fakeFfi(
    {
      getsockopt: (fd: number, level: number, name: number, cred: Int32Array, len: Uint32Array) => {
        calls.push([fd, level, name, len[0]!]);
        cred[0] = 1234; // pid
        cred[1] = 1000; // uid
        cred[2] = 1000; // gid
        return 0;
      },
    } as never,
    ["libc.so.6", "libc.so"],
  );
  const read = loadPeerUid({ runtime: "bun", os: "linux" }, ffi)!;
  expect(opened.map((o) => o.name)).toEqual(["libc.so.6", "libc.so", "libc.musl-x86_64.so.1"]);
  expect(read(5)).toBe(1000);
  expect(calls).toEqual([[5, 1, 17, 12]]);
});

test("macOS: libc.dylib when libSystem's path does not open, as the lock does", () => {
  const { ffi, opened } = fakeFfi({ getpeereid: (_fd: number, uid: Uint32Array) => ((uid[0] = 501), 0) } as never, ["/usr/lib/libSystem.B.dylib"]);
  const read = loadPeerUid({ runtime: "bun", os: "darwin" }, ffi)!;
  expect(opened.map((o) => o.name)).toEqual(["/usr/lib/libSystem.B.dylib", "libc.dylib"]);
  expect(read(3)).toBe(501);
});

test("no FFI (Node, Deno) or no loadable libc: unsupported, so the path checks are the guard", () => {
  expect(loadPeerUid({ runtime: "node", os: "linux" })).toBeNull();
  expect(loadPeerUid({ runtime: "deno", os: "darwin" })).toBeNull();
  const { ffi } = fakeFfi({}, ["/usr/lib/libSystem.B.dylib", "libc.dylib"]);
  expect(loadPeerUid({ runtime: "bun", os: "darwin" }, ffi)).toBeNull();
  expect(loadPeerUid({ runtime: "bun", os: "win32" }, fakeFfi({}).ffi)).toBeNull();
});

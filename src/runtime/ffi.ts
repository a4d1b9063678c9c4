/**
 * The C library through Bun's FFI (bun:ffi), for the calls no JavaScript API offers: flock(2) and
 * the peer credentials of a Unix socket. bun:ffi is loaded with `process.getBuiltinModule`, never a
 * static import, so a bundle built for Node or Deno never evaluates it; there `loadBunFfi()` is
 * undefined and callers take their portable path.
 */
import type * as BunFfi from "bun:ffi";
import { type Platform, builtin, platform } from "./platform.ts";

export type Ffi = typeof BunFfi;

/** bun:ffi when running under Bun, else undefined. */
export function loadBunFfi(p: Platform = platform()): Ffi | undefined {
  return p.runtime === "bun" ? builtin<Ffi>("bun:ffi") : undefined;
}

/**
 * The libraries to try, in order: glibc then musl on Linux, libSystem on macOS, FreeBSD's libc.
 * Bun resolves a bare name through the dynamic loader's search path, as dlopen(3) does.
 */
export function libcCandidates(os: NodeJS.Platform): string[] {
  if (os === "darwin") return ["/usr/lib/libSystem.B.dylib", "libc.dylib"];
  if (os === "freebsd") return ["libc.so.7"];
  return ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];
}

/** The function that returns a pointer to this thread's errno: glibc/musl vs. Apple/FreeBSD. */
export function errnoSymbol(os: NodeJS.Platform): "__errno_location" | "__error" {
  return os === "darwin" || os === "freebsd" ? "__error" : "__errno_location";
}

/**
 * dlopen the first libc candidate that exports `symbols`; undefined (with the last error) when none
 * does. `ffi` is injectable so the platform branches are testable without the real library.
 */
export function openLibc<Fns extends Record<string, BunFfi.FFIFunction>>(
  ffi: Pick<Ffi, "dlopen">,
  os: NodeJS.Platform,
  symbols: Fns,
): { lib: BunFfi.Library<Fns>; name: string } | { error: unknown; tried: string[] } {
  const tried = libcCandidates(os);
  let error: unknown;
  for (const name of tried) {
    try {
      return { lib: ffi.dlopen(name, symbols), name };
    } catch (e) {
      error = e;
    }
  }
  return { error, tried };
}

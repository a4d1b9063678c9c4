/**
 * What a release binary is, read from its own header: ELF or Mach-O, the CPU, for ELF the program
 * interpreter (glibc's or musl's loader), and for Mach-O whether its code signature holds (macho.ts).
 */
import { machoSignatureProblem } from "./macho.ts";

export interface BinaryInfo {
  format: "elf" | "macho" | "unknown";
  arch: "x64" | "arm64" | "other";
  /** ELF only: PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2 or /lib/ld-musl-x86_64.so.1. */
  interpreter?: string;
}

const ELF_MACHINE: Record<number, BinaryInfo["arch"]> = { 0x3e: "x64", 0xb7: "arm64" };
const MACHO_CPU: Record<number, BinaryInfo["arch"]> = { 0x01000007: "x64", 0x0100000c: "arm64" };

/** Read the header of a binary (the whole file, for the ELF interpreter). */
export function identify(buf: Uint8Array): BinaryInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length >= 64 && v.getUint32(0) === 0x7f454c46 && buf[4] === 2 && buf[5] === 1) {
    const info: BinaryInfo = { format: "elf", arch: ELF_MACHINE[v.getUint16(18, true)] ?? "other" };
    const phoff = Number(v.getBigUint64(32, true));
    const phentsize = v.getUint16(54, true);
    const phnum = v.getUint16(56, true);
    for (let i = 0; i < phnum; i++) {
      const p = phoff + i * phentsize;
      if (p + 40 > buf.length || v.getUint32(p, true) !== 3) continue; // PT_INTERP
      const off = Number(v.getBigUint64(p + 8, true));
      const size = Number(v.getBigUint64(p + 32, true));
      info.interpreter = new TextDecoder().decode(buf.subarray(off, off + size)).replace(/\0+$/, "");
    }
    return info;
  }
  if (buf.length >= 32 && v.getUint32(0, true) === 0xfeedfacf) return { format: "macho", arch: MACHO_CPU[v.getUint32(4, true)] ?? "other" };
  return { format: "unknown", arch: "other" };
}

/** Why a built binary is not what its target promises, or undefined when it is. */
export function binaryProblem(buf: Uint8Array, want: { format: "elf" | "macho"; arch: "x64" | "arm64"; musl?: boolean }): string | undefined {
  const got = identify(buf);
  if (got.format !== want.format || got.arch !== want.arch) return `is ${got.format} ${got.arch}, expected ${want.format} ${want.arch}`;
  if (want.format === "elf" && want.musl !== undefined) {
    const musl = /ld-musl/.test(got.interpreter ?? "");
    if (musl !== want.musl) return `loads ${got.interpreter ?? "no interpreter"}, expected ${want.musl ? "musl's" : "glibc's"} loader`;
  }
  return want.format === "macho" ? machoSignatureProblem(buf) : undefined;
}

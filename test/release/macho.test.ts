/** Release binaries read from their headers, and the Mach-O signature check and ad-hoc signer, on synthetic files. */
import { describe, expect, it } from "bun:test";
import { randomBytes } from "node:crypto";
import { binaryProblem, identify } from "../../scripts/release/binary.ts";
import { adhocSign, machoSignatureProblem } from "../../scripts/release/macho.ts";

/** A minimal 64-bit Mach-O: __TEXT over the first 8 KiB, __LINKEDIT after it, LC_CODE_SIGNATURE at `sigOff`. */
function macho(o: { cpu?: number; sigOff?: number } = {}): Uint8Array {
  const sigOff = o.sigOff ?? 10_000;
  const buf = new Uint8Array(sigOff);
  buf.set(randomBytes(sigOff));
  const v = new DataView(buf.buffer);
  const seg = (p: number, name: string, fileoff: number, filesize: number) => {
    v.setUint32(p, 0x19, true);
    v.setUint32(p + 4, 72, true);
    buf.fill(0, p + 8, p + 24);
    buf.set(new TextEncoder().encode(name), p + 8);
    v.setBigUint64(p + 24, 0x100000000n + BigInt(fileoff), true);
    v.setBigUint64(p + 32, BigInt(filesize), true);
    v.setBigUint64(p + 40, BigInt(fileoff), true);
    v.setBigUint64(p + 48, BigInt(filesize), true);
    v.setUint32(p + 64, 0, true); // nsects
  };
  v.setUint32(0, 0xfeedfacf, true);
  v.setUint32(4, o.cpu ?? 0x01000007, true);
  v.setUint32(16, 3, true); // ncmds
  v.setUint32(20, 72 + 72 + 16, true);
  seg(32, "__TEXT", 0, 8192);
  seg(104, "__LINKEDIT", 8192, sigOff - 8192);
  v.setUint32(176, 0x1d, true);
  v.setUint32(180, 16, true);
  v.setUint32(184, sigOff, true);
  v.setUint32(188, 0, true);
  return buf;
}

/** A minimal ELF64 with a PT_INTERP naming `interp`. */
function elf(machine: number, interp: string): Uint8Array {
  const buf = new Uint8Array(256);
  const v = new DataView(buf.buffer);
  v.setUint32(0, 0x7f454c46);
  buf[4] = 2;
  buf[5] = 1;
  v.setUint16(18, machine, true);
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(54, 56, true);
  v.setUint16(56, 1, true);
  v.setUint32(64, 3, true); // PT_INTERP
  v.setBigUint64(72, 128n, true);
  v.setBigUint64(96, BigInt(interp.length + 1), true);
  buf.set(new TextEncoder().encode(interp), 128);
  return buf;
}

describe("identify", () => {
  it.each([
    [elf(0x3e, "/lib64/ld-linux-x86-64.so.2"), { format: "elf", arch: "x64", interpreter: "/lib64/ld-linux-x86-64.so.2" }],
    [elf(0xb7, "/lib/ld-linux-aarch64.so.1"), { format: "elf", arch: "arm64", interpreter: "/lib/ld-linux-aarch64.so.1" }],
    [elf(0x3e, "/lib/ld-musl-x86_64.so.1"), { format: "elf", arch: "x64", interpreter: "/lib/ld-musl-x86_64.so.1" }],
    [macho({ cpu: 0x0100000c }), { format: "macho", arch: "arm64" }],
    [macho(), { format: "macho", arch: "x64" }],
    [new TextEncoder().encode("#!/bin/sh\necho not a binary\n".padEnd(80)), { format: "unknown", arch: "other" }],
  ])("%#", (buf, want) => expect(identify(buf)).toEqual(want as ReturnType<typeof identify>));

  it("binaryProblem names the wrong CPU, the wrong libc loader", () => {
    expect(binaryProblem(elf(0x3e, "/lib64/ld-linux-x86-64.so.2"), { format: "elf", arch: "x64", musl: false })).toBeUndefined();
    expect(binaryProblem(elf(0xb7, "/lib/ld-linux-aarch64.so.1"), { format: "elf", arch: "x64" })).toBe("is elf arm64, expected elf x64");
    expect(binaryProblem(elf(0x3e, "/lib64/ld-linux-x86-64.so.2"), { format: "elf", arch: "x64", musl: true })).toMatch(/expected musl's loader/);
    expect(binaryProblem(elf(0x3e, "/lib/ld-musl-x86_64.so.1"), { format: "elf", arch: "x64", musl: false })).toMatch(/expected glibc's loader/);
    expect(binaryProblem(macho(), { format: "macho", arch: "x64" })).toMatch(/not a SuperBlob|runs past/);
  });
});

describe("Mach-O code signature", () => {
  it("an ad-hoc signature covers every byte before it, and the check agrees", () => {
    const unsigned = macho();
    expect(machoSignatureProblem(unsigned)).toBeDefined();
    const signed = adhocSign(unsigned, "tokenctl");
    expect(machoSignatureProblem(signed)).toBeUndefined();
    expect(binaryProblem(signed, { format: "macho", arch: "x64" })).toBeUndefined();
    // the code before the signature is unchanged except the sizes in the load commands
    expect(Buffer.from(signed.subarray(192, 10_000)).equals(Buffer.from(unsigned.subarray(192, 10_000)))).toBe(true);
    const v = new DataView(signed.buffer);
    expect(v.getUint32(188, true)).toBe(signed.length - 10_000); // LC_CODE_SIGNATURE datasize
    expect(v.getBigUint64(104 + 48, true)).toBe(BigInt(signed.length - 8192)); // __LINKEDIT filesize
  });

  it("one changed byte, bytes past the end, or a short codeLimit are found", () => {
    const signed = adhocSign(macho(), "tokenctl");
    const tampered = signed.slice();
    tampered[5000] = tampered[5000]! ^ 1;
    expect(machoSignatureProblem(tampered)).toBe("1 of 3 page hashes do not match (first: page 1)");
    const longer = new Uint8Array(signed.length + 16);
    longer.set(signed);
    expect(machoSignatureProblem(longer)).toBe("16 bytes after the signature");
    // a signature made for a shorter file (the code grew after signing), as Bun leaves darwin-x64
    const grown = adhocSign(macho({ sigOff: 12_000 }), "tokenctl");
    const stale = adhocSign(macho({ sigOff: 8_000 }), "tokenctl").subarray(8_000);
    const mixed = new Uint8Array(12_000 + stale.length);
    mixed.set(grown.subarray(0, 12_000));
    mixed.set(stale, 12_000);
    new DataView(mixed.buffer).setUint32(188, stale.length, true);
    expect(machoSignatureProblem(mixed)).toBe("the signature covers 8000 bytes but the code runs to 12000");
    expect(machoSignatureProblem(adhocSign(mixed, "tokenctl"))).toBeUndefined();
  });

  it("signing what is not a Mach-O throws", () => {
    expect(() => adhocSign(elf(0x3e, "/lib64/ld-linux-x86-64.so.2"), "x")).toThrow(/not a 64-bit Mach-O/);
  });
});

/**
 * The code signature of a Mach-O release binary, checked and, when Bun left it stale, rewritten.
 *
 * macOS kills a process whose pages do not match its code signature (always on Apple silicon; on
 * Intel when the signature asks for the hardened runtime). `bun build --compile` appends the
 * bundle to the runtime and re-signs it ad hoc; for darwin-x64 (Bun 1.4.5, cross-compiled) it
 * keeps the runtime's own signature instead, which then covers neither the new length nor the new
 * bytes. No Mac runs here, so the signature is checked as the kernel and codesign(1) check it —
 * one SHA-256 per 4 KiB page up to codeLimit, the last page truncated — and, when it does not hold,
 * replaced by an ad-hoc, linker-signed CodeDirectory of the kind Bun writes for darwin-arm64 and
 * Go's linker writes for every darwin binary (cmd/internal/codesign).
 */
import { createHash } from "node:crypto";

const MH_MAGIC_64 = 0xfeedfacf;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CS_ADHOC = 0x2;
const CS_LINKER_SIGNED = 0x20000;
const CS_EXECSEG_MAIN_BINARY = 1;
const PAGE = 4096;
const HASH = 32; // SHA-256

interface Layout {
  /** Offset of LC_CODE_SIGNATURE's load command, and what it says. */
  sigCmd: number;
  sigOff: number;
  sigSize: number;
  /** Offset of __LINKEDIT's segment command, and __TEXT's file size (the executable segment). */
  linkeditCmd?: number;
  textFileSize?: bigint;
}

function layout(buf: Uint8Array): Layout | string {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 32 || v.getUint32(0, true) !== MH_MAGIC_64) return "not a 64-bit Mach-O";
  const ncmds = v.getUint32(16, true);
  const out: Partial<Layout> = {};
  for (let i = 0, p = 32; i < ncmds && p + 8 <= buf.length; i++) {
    const cmd = v.getUint32(p, true);
    if (cmd === LC_CODE_SIGNATURE) Object.assign(out, { sigCmd: p, sigOff: v.getUint32(p + 8, true), sigSize: v.getUint32(p + 12, true) });
    if (cmd === LC_SEGMENT_64) {
      const name = new TextDecoder().decode(buf.subarray(p + 8, p + 24)).replace(/\0+$/, "");
      if (name === "__LINKEDIT") out.linkeditCmd = p;
      if (name === "__TEXT") out.textFileSize = v.getBigUint64(p + 48, true);
    }
    p += v.getUint32(p + 4, true);
  }
  return out.sigCmd === undefined ? "no LC_CODE_SIGNATURE (unsigned)" : (out as Layout);
}

/** Why a Mach-O's embedded code signature does not hold, or undefined when every page hash matches. */
export function machoSignatureProblem(buf: Uint8Array): string | undefined {
  const l = layout(buf);
  if (typeof l === "string") return l;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (l.sigOff + l.sigSize > buf.length) return `the signature (${l.sigOff}+${l.sigSize}) runs past the end of the file (${buf.length})`;
  if (buf.length > l.sigOff + l.sigSize) return `${buf.length - l.sigOff - l.sigSize} bytes after the signature`;
  const end = l.sigOff + l.sigSize;
  if (l.sigSize < 12 || v.getUint32(l.sigOff) !== CSMAGIC_EMBEDDED_SIGNATURE) return "the signature is not a SuperBlob";
  const count = v.getUint32(l.sigOff + 8);
  let cd: number | undefined;
  for (let i = 0; i < count && l.sigOff + 20 + i * 8 <= end; i++) if (v.getUint32(l.sigOff + 12 + i * 8) === 0) cd = l.sigOff + v.getUint32(l.sigOff + 16 + i * 8);
  if (cd === undefined || cd + 40 > end || v.getUint32(cd) !== CSMAGIC_CODEDIRECTORY) return "no CodeDirectory";
  const hashOffset = v.getUint32(cd + 16);
  const nCodeSlots = v.getUint32(cd + 28);
  const codeLimit = v.getUint32(cd + 32);
  const hashSize = v.getUint8(cd + 36);
  const hashType = v.getUint8(cd + 37);
  const pageSize = 2 ** v.getUint8(cd + 39);
  if (hashType !== 2 || hashSize !== HASH) return `hash type ${hashType} (size ${hashSize}), expected SHA-256`;
  if (codeLimit !== l.sigOff) return `the signature covers ${codeLimit} bytes but the code runs to ${l.sigOff}`;
  if (nCodeSlots !== Math.ceil(codeLimit / pageSize)) return `${nCodeSlots} page hashes for ${Math.ceil(codeLimit / pageSize)} pages`;
  if (cd + hashOffset + nCodeSlots * hashSize > end) return "the page hashes run past the signature";
  let bad = 0;
  let first = -1;
  for (let i = 0; i < nCodeSlots; i++) {
    const page = buf.subarray(i * pageSize, Math.min((i + 1) * pageSize, codeLimit));
    const want = buf.subarray(cd + hashOffset + i * hashSize, cd + hashOffset + (i + 1) * hashSize);
    if (!createHash("sha256").update(page).digest().equals(want)) {
      bad++;
      if (first < 0) first = i;
    }
  }
  return bad ? `${bad} of ${nCodeSlots} page hashes do not match (first: page ${first})` : undefined;
}

/**
 * The binary with its signature replaced by an ad-hoc, linker-signed one over every byte before
 * it: a SuperBlob holding one CodeDirectory (version 0x20400, SHA-256, 4 KiB pages, no special
 * slots). LC_CODE_SIGNATURE and __LINKEDIT grow or shrink to fit; the signature stays where it was.
 */
export function adhocSign(input: Uint8Array, identifier: string): Uint8Array {
  const l = layout(input);
  if (typeof l === "string") throw new Error(`cannot sign: ${l}`);
  const codeLimit = l.sigOff;
  const nCodeSlots = Math.ceil(codeLimit / PAGE);
  const ident = new TextEncoder().encode(`${identifier}\0`);
  const cdHeader = 88;
  const hashOffset = cdHeader + ident.length;
  const cdLength = hashOffset + nCodeSlots * HASH;
  const sigSize = 12 + 8 + cdLength;
  const buf = new Uint8Array(codeLimit + sigSize);
  buf.set(input.subarray(0, codeLimit));
  const v = new DataView(buf.buffer);
  // Load commands first: they sit in page 0, which is hashed below.
  v.setUint32(l.sigCmd + 12, sigSize, true);
  if (l.linkeditCmd !== undefined) {
    const fileoff = v.getBigUint64(l.linkeditCmd + 40, true);
    const filesize = BigInt(codeLimit + sigSize) - fileoff;
    v.setBigUint64(l.linkeditCmd + 48, filesize, true);
    const vmsize = ((filesize + BigInt(PAGE - 1)) / BigInt(PAGE)) * BigInt(PAGE);
    if (vmsize > v.getBigUint64(l.linkeditCmd + 32, true)) v.setBigUint64(l.linkeditCmd + 32, vmsize, true);
  }
  const sb = codeLimit;
  v.setUint32(sb, CSMAGIC_EMBEDDED_SIGNATURE);
  v.setUint32(sb + 4, sigSize);
  v.setUint32(sb + 8, 1);
  v.setUint32(sb + 12, 0); // CSSLOT_CODEDIRECTORY
  v.setUint32(sb + 16, 20);
  const cd = sb + 20;
  v.setUint32(cd, CSMAGIC_CODEDIRECTORY);
  v.setUint32(cd + 4, cdLength);
  v.setUint32(cd + 8, 0x20400);
  v.setUint32(cd + 12, CS_ADHOC | CS_LINKER_SIGNED);
  v.setUint32(cd + 16, hashOffset);
  v.setUint32(cd + 20, cdHeader);
  v.setUint32(cd + 24, 0); // nSpecialSlots
  v.setUint32(cd + 28, nCodeSlots);
  v.setUint32(cd + 32, codeLimit);
  v.setUint8(cd + 36, HASH);
  v.setUint8(cd + 37, 2); // CS_HASHTYPE_SHA256
  v.setUint8(cd + 38, 0);
  v.setUint8(cd + 39, Math.log2(PAGE));
  // spare2, scatterOffset, teamOffset, spare3, codeLimit64, execSegBase stay 0
  v.setBigUint64(cd + 72, l.textFileSize ?? 0n); // execSegLimit: the __TEXT segment
  v.setBigUint64(cd + 80, BigInt(CS_EXECSEG_MAIN_BINARY));
  buf.set(ident, cd + cdHeader);
  for (let i = 0; i < nCodeSlots; i++)
    buf.set(createHash("sha256").update(buf.subarray(i * PAGE, Math.min((i + 1) * PAGE, codeLimit))).digest(), cd + hashOffset + i * HASH);
  return buf;
}

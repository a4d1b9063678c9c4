/**
 * The Bun runtime a cross-compiled binary is built on: the target's @oven/bun-* package from the
 * npm registry (`npm pack`), at exactly the version package-lock.json pins for bun, checked against
 * the lockfile's sha512 integrity before a byte of it is used. Tarballs are cached (dist/.cache/bun)
 * and checked again on every use; the runtime is extracted afresh from the checked tarball.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/** A package as package-lock.json pins it. */
export interface LockEntry {
  version: string;
  integrity: string;
}

/** What `npm pack --json` reports for the tarball it wrote. */
export interface Packed {
  filename: string;
  version: string;
  integrity: string;
}

/** Fetch `spec` (name@version) as a tarball into `dest`. */
export type Pack = (spec: string, dest: string) => Packed;

/** A runtime we refuse to build with: wrong version, or bytes that are not the ones the lockfile pins. */
export class RuntimeCheckError extends Error {
  override name = "RuntimeCheckError";
}

/** `npm pack <spec> --json` into dest: the registry the project's npm is configured for. */
export const npmPack: Pack = (spec, dest) => {
  const out = execFileSync("npm", ["pack", spec, "--json", "--pack-destination", dest], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const [first] = JSON.parse(out) as Packed[];
  if (!first) throw new RuntimeCheckError(`npm pack ${spec} reported nothing`);
  return first;
};

/** Subresource-integrity string (sha512-<base64>) of some bytes, as npm writes it. */
export function sriOf(bytes: Uint8Array): string {
  return `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
}

/** The lockfile's entry for a package under node_modules/; throws when it is missing. */
export function lockEntry(lock: { packages?: Record<string, Partial<LockEntry>> }, name: string): LockEntry {
  const e = lock.packages?.[`node_modules/${name}`];
  if (!e?.version || !e.integrity) throw new RuntimeCheckError(`package-lock.json pins no version and integrity for ${name}`);
  return { version: e.version, integrity: e.integrity };
}

/** The Bun version the build uses: node_modules/bun, which must be the one package-lock.json pins. */
export function pinnedBunVersion(root: string): string {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const pinned = lockEntry(lock, "bun").version;
  const installed = (JSON.parse(readFileSync(join(root, "node_modules/bun/package.json"), "utf8")) as { version: string }).version;
  if (installed !== pinned) throw new RuntimeCheckError(`node_modules/bun is ${installed} but package-lock.json pins ${pinned}: run npm ci`);
  return pinned;
}

/** Throws unless the tarball's bytes (and what npm reported, when given) match the lockfile's entry. */
export function checkTarball(bytes: Uint8Array, name: string, expected: LockEntry, reported?: Pick<Packed, "version" | "integrity">): void {
  if (reported && reported.version !== expected.version)
    throw new RuntimeCheckError(`npm pack fetched ${name}@${reported.version}, expected ${expected.version}`);
  if (reported && reported.integrity !== expected.integrity)
    throw new RuntimeCheckError(`npm pack reports integrity ${reported.integrity} for ${name}@${expected.version}; package-lock.json has ${expected.integrity}`);
  const actual = sriOf(bytes);
  if (actual !== expected.integrity)
    throw new RuntimeCheckError(`${name}@${expected.version} tarball has integrity ${actual}; package-lock.json has ${expected.integrity}`);
}

export interface RuntimeOptions {
  /** The project root (package-lock.json, node_modules/bun). */
  root: string;
  /** Where checked tarballs are kept. */
  cacheDir: string;
  pack?: Pack;
  log?: (line: string) => void;
}

/**
 * A checked tarball of `name` at the pinned Bun version: from the cache (checked again) or fetched,
 * checked, then moved into the cache. Returns its path.
 */
export function fetchRuntimeTarball(name: string, o: RuntimeOptions): string {
  const version = pinnedBunVersion(o.root);
  const lock = JSON.parse(readFileSync(join(o.root, "package-lock.json"), "utf8"));
  const expected = lockEntry(lock, name);
  if (expected.version !== version) throw new RuntimeCheckError(`package-lock.json pins ${name}@${expected.version} but bun is ${version}`);
  mkdirSync(o.cacheDir, { recursive: true });
  const cached = join(o.cacheDir, `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`);
  if (existsSync(cached)) {
    try {
      checkTarball(readFileSync(cached), name, expected);
    } catch (e) {
      throw new RuntimeCheckError(`${(e as Error).message} (cached at ${cached}: delete it to fetch again)`);
    }
    return cached;
  }
  const tmp = mkdtempSync(join(o.cacheDir, "fetch-"));
  try {
    o.log?.(`fetching ${name}@${version} (npm pack)`);
    const packed = (o.pack ?? npmPack)(`${name}@${version}`, tmp);
    checkTarball(readFileSync(join(tmp, packed.filename)), name, expected, packed);
    renameSync(join(tmp, packed.filename), cached);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return cached;
}

/**
 * The runtime binary from a checked tarball, extracted into `into`; its package.json must name the
 * package and version. Returns the path of `bin/bun`.
 */
export function extractRuntime(tarball: string, name: string, version: string, into: string): string {
  execFileSync("tar", ["-xzf", tarball, "-C", into, "package/bin/bun", "package/package.json"], { stdio: ["ignore", "ignore", "inherit"] });
  const meta = JSON.parse(readFileSync(join(into, "package", "package.json"), "utf8")) as { name?: string; version?: string };
  if (meta.name !== name || meta.version !== version)
    throw new RuntimeCheckError(`${tarball} holds ${meta.name}@${meta.version}, expected ${name}@${version}`);
  return join(into, "package", "bin", "bun");
}

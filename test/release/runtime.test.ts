/** The Bun runtimes the release is built on: pinned version, lockfile integrity, the cache checked on every use. */
import { describe, expect, it } from "bun:test";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkTarball, extractRuntime, fetchRuntimeTarball, sriOf, type Pack } from "../../scripts/release/runtime.ts";
import { tempDir } from "../support/tmp.ts";

const PKG = "@oven/bun-darwin-aarch64";

/** A tarball laid out like an @oven/bun-* package. */
function tarball(dir: string, o: { name?: string; version?: string; bin?: string } = {}): string {
  const src = join(dir, "src");
  mkdirSync(join(src, "package", "bin"), { recursive: true });
  writeFileSync(join(src, "package", "bin", "bun"), o.bin ?? "runtime bytes", { mode: 0o755 });
  writeFileSync(join(src, "package", "package.json"), JSON.stringify({ name: o.name ?? PKG, version: o.version ?? "1.4.5" }));
  const file = join(dir, "pkg.tgz");
  execFileSync("tar", ["-czf", file, "-C", src, "package"]);
  return file;
}

/** A project root whose lockfile pins bun and PKG (integrity of `tgz` unless given) and whose node_modules/bun is `installed`. */
function project(tgz: string, o: { installed?: string; integrity?: string; pkgVersion?: string } = {}) {
  const root = tempDir();
  mkdirSync(join(root, "node_modules", "bun"), { recursive: true });
  writeFileSync(join(root, "node_modules", "bun", "package.json"), JSON.stringify({ name: "bun", version: o.installed ?? "1.4.5" }));
  const integrity = o.integrity ?? sriOf(readFileSync(tgz));
  const lock = {
    packages: {
      "node_modules/bun": { version: "1.4.5", integrity: "sha512-bun" },
      [`node_modules/${PKG}`]: { version: o.pkgVersion ?? "1.4.5", integrity },
    },
  };
  writeFileSync(join(root, "package-lock.json"), JSON.stringify(lock));
  return { root, cacheDir: join(root, "dist", ".cache", "bun") };
}

/** A fake `npm pack` that copies `tgz` and reports what it is told to (by default, the truth). */
function packer(tgz: string, report: { version?: string; integrity?: string } = {}) {
  const calls: string[] = [];
  const pack: Pack = (spec, dest) => {
    calls.push(spec);
    copyFileSync(tgz, join(dest, "oven-bun.tgz"));
    return { filename: "oven-bun.tgz", version: report.version ?? "1.4.5", integrity: report.integrity ?? sriOf(readFileSync(tgz)) };
  };
  return { pack, calls };
}

describe("fetchRuntimeTarball", () => {
  it("fetches the pinned version once, then uses the cache", () => {
    const tgz = tarball(tempDir());
    const p = project(tgz);
    const { pack, calls } = packer(tgz);
    const first = fetchRuntimeTarball(PKG, { ...p, pack });
    expect(calls).toEqual([`${PKG}@1.4.5`]);
    expect(fetchRuntimeTarball(PKG, { ...p, pack })).toBe(first);
    expect(calls.length).toBe(1);
    expect(readdirSync(p.cacheDir)).toEqual(["oven-bun-darwin-aarch64-1.4.5.tgz"]);
  });

  it.each([
    ["node_modules/bun is not the pinned version", { installed: "1.4.4" }, {}, /node_modules\/bun is 1\.4\.4 but package-lock\.json pins 1\.4\.5/],
    ["the lockfile pins the runtime at another version", { pkgVersion: "1.4.4" }, {}, /pins @oven\/bun-darwin-aarch64@1\.4\.4 but bun is 1\.4\.5/],
    ["npm fetched another version", {}, { version: "1.4.6" }, /fetched @oven\/bun-darwin-aarch64@1\.4\.6, expected 1\.4\.5/],
    ["npm reports another integrity", {}, { integrity: "sha512-other" }, /npm pack reports integrity sha512-other/],
    ["the bytes are not the lockfile's", { integrity: "sha512-pinned" }, { integrity: "sha512-pinned" }, /tarball has integrity sha512-.* package-lock\.json has sha512-pinned/],
  ])("refuses when %s", (_, proj, report, message) => {
    const tgz = tarball(tempDir());
    const p = project(tgz, proj);
    const { pack } = packer(tgz, report);
    expect(() => fetchRuntimeTarball(PKG, { ...p, pack })).toThrow(message);
    expect(existsSync(p.cacheDir) ? readdirSync(p.cacheDir) : []).toEqual([]);
  });

  it("refuses a cached tarball that changed since it was checked", () => {
    const tgz = tarball(tempDir());
    const p = project(tgz);
    const { pack } = packer(tgz);
    const cached = fetchRuntimeTarball(PKG, { ...p, pack });
    writeFileSync(cached, readFileSync(tarball(tempDir(), { bin: "other bytes" })));
    expect(() => fetchRuntimeTarball(PKG, { ...p, pack })).toThrow(/delete it to fetch again/);
  });
});

describe("extractRuntime and checkTarball", () => {
  it("extracts bin/bun when the package is the one asked for", () => {
    const tgz = tarball(tempDir());
    const bin = extractRuntime(tgz, PKG, "1.4.5", tempDir());
    expect(readFileSync(bin, "utf8")).toBe("runtime bytes");
  });

  it.each([
    [{ name: "@oven/bun-linux-x64" }, /holds @oven\/bun-linux-x64@1\.4\.5, expected @oven\/bun-darwin-aarch64@1\.4\.5/],
    [{ version: "1.4.4" }, /holds @oven\/bun-darwin-aarch64@1\.4\.4/],
  ])("refuses a tarball holding another package: %o", (o, message) => {
    expect(() => extractRuntime(tarball(tempDir(), o), PKG, "1.4.5", tempDir())).toThrow(message);
  });

  it("checkTarball compares the sha512 of the bytes", () => {
    const bytes = new TextEncoder().encode("x");
    expect(() => checkTarball(bytes, PKG, { version: "1.4.5", integrity: sriOf(bytes) })).not.toThrow();
    expect(() => checkTarball(new TextEncoder().encode("y"), PKG, { version: "1.4.5", integrity: sriOf(bytes) })).toThrow(/tarball has integrity/);
  });
});

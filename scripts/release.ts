/**
 * `npm run release`: tokenctl for every release target into dist/release/ (tokenctl-<target>),
 * with a SHA256SUMS file in `sha256sum -c` format.
 *
 *   bun scripts/release.ts [--only linux-x64,darwin-arm64] [--out DIR] [--sizes]
 *
 * Each target is compiled on that target's Bun runtime (`--compile-executable-path`): the running
 * Bun for this machine's own target, else the @oven/bun-* package from the npm registry at the
 * version package-lock.json pins, checked against the lockfile's integrity (scripts/release/runtime.ts).
 * Every binary is then checked from its header (ELF or Mach-O, CPU, glibc or musl loader, the
 * Mach-O code signature: scripts/release/binary.ts), and the one this machine runs prints its
 * --version. --sizes adds each binary's size as is, as .tar.gz (gzip -9) and as .tar.xz (xz -6).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { COMPILE_FLAGS, defineArgs, expectedVersionLine, gitCommit, hostTarget } from "./build-info.ts";
import { binaryProblem } from "./release/binary.ts";
import { adhocSign, machoSignatureProblem } from "./release/macho.ts";
import { extractRuntime, fetchRuntimeTarball, pinnedBunVersion } from "./release/runtime.ts";
import { pickTargets, type Target } from "./release/targets.ts";

const root = resolve(import.meta.dirname, "..");
const { values: flags } = parseArgs({
  options: { only: { type: "string" }, out: { type: "string" }, sizes: { type: "boolean" }, help: { type: "boolean", short: "h" } },
});
if (flags.help) {
  process.stdout.write("usage: bun scripts/release.ts [--only linux-x64,darwin-arm64,…] [--out DIR] [--sizes]\n");
  process.exit(0);
}
const log = (line: string) => process.stderr.write(`${line}\n`);
/** A binary that is not what its target promises: the release stops, exit 1. */
class ReleaseCheckError extends Error {
  override name = "ReleaseCheckError";
}
const fail = (line: string): never => {
  throw new ReleaseCheckError(line);
};

let targets: Target[] = [];
try {
  targets = pickTargets(flags.only);
} catch (e) {
  log(`release: ${(e as Error).message}`);
  process.exit(2);
}
const out = resolve(flags.out ?? join(root, "dist", "release"));
const cacheDir = join(root, "dist", ".cache", "bun");
const bunVersion = pinnedBunVersion(root);
const commit = gitCommit(root);
const host = hostTarget();
mkdirSync(out, { recursive: true });
// A failed run leaves no SHA256SUMS to vouch for binaries it did not finish checking.
rmSync(join(out, "SHA256SUMS"), { force: true });
mkdirSync(join(root, "dist"), { recursive: true });
const work = mkdtempSync(join(root, "dist", ".release-"));

const sums: string[] = [];
try {
  for (const t of targets) {
    const started = performance.now();
    // This machine's own target builds on the running Bun when it is the pinned version.
    let runtime = process.execPath;
    if (t.name !== host || process.versions.bun !== bunVersion) {
      const tarball = fetchRuntimeTarball(t.runtimePackage, { root, cacheDir, log });
      const dir = mkdtempSync(join(work, `${t.name}-`));
      runtime = extractRuntime(tarball, t.runtimePackage, bunVersion, dir);
    }
    // Oven signs its macOS runtimes; our page-hash check must agree before it judges our binary.
    const runtimeSignature = t.format === "macho" ? machoSignatureProblem(readFileSync(runtime)) : undefined;
    if (runtimeSignature) fail(`the ${t.runtimePackage} runtime's own signature does not hold: ${runtimeSignature}`);
    const file = join(out, `tokenctl-${t.name}`);
    const info = { commit, target: t.name };
    execFileSync(
      process.execPath,
      ["build", join(root, "src/bin.ts"), ...defineArgs(info), ...COMPILE_FLAGS, `--target=${t.bunTarget}`, `--compile-executable-path=${runtime}`, "--outfile", file],
      { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
    );
    let bytes: Uint8Array = readFileSync(file);
    const stale = t.format === "macho" ? machoSignatureProblem(bytes) : undefined;
    if (stale) {
      // Bun left a signature macOS would kill the binary for: sign it ad hoc (release/macho.ts).
      bytes = adhocSign(bytes, "tokenctl");
      writeFileSync(`${file}.tmp`, bytes, { mode: 0o755 });
      renameSync(`${file}.tmp`, file);
      log(`tokenctl-${t.name}: signed ad hoc (Bun's signature: ${stale})`);
    }
    const problem = binaryProblem(bytes, { format: t.format, arch: t.arch, musl: t.format === "elf" ? t.name.endsWith("-musl") : undefined });
    if (problem) fail(`tokenctl-${t.name} ${problem}`);
    if (t.name === host) {
      const line = execFileSync(file, ["--version"], { encoding: "utf8" }).trim();
      if (line !== expectedVersionLine(info)) fail(`tokenctl-${t.name} --version printed "${line}", expected "${expectedVersionLine(info)}"`);
    }
    sums.push(`${createHash("sha256").update(bytes).digest("hex")}  tokenctl-${t.name}`);
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    let row = `tokenctl-${t.name}  ${mib(bytes.length)}`;
    if (flags.sizes) {
      const sh = (pipe: string) => Number(execFileSync("sh", ["-c", `tar -C "$1" -cf - "$2" | ${pipe} | wc -c`, "sh", out, `tokenctl-${t.name}`], { encoding: "utf8" }).trim());
      row += `  tar.gz ${mib(sh("gzip -9"))}  tar.xz ${mib(sh("xz -6 -T1"))}`;
    }
    log(`built ${row}  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  writeFileSync(join(out, "SHA256SUMS"), `${sums.join("\n")}\n`);
  log(`wrote ${join(out, "SHA256SUMS")} (${sums.length} binaries, commit ${commit}, bun ${bunVersion})`);
} catch (e) {
  // A refused runtime (release/runtime.ts) or a wrong binary: say which, no stack.
  log(`release: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

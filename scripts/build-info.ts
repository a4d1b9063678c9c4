/**
 * What a build bakes into the binary for `tokenctl --version` (src/version.ts): the git commit
 * and the target, passed to `bun build` as `--define` flags. Shared by build.ts and release.ts.
 */
import { execFileSync } from "node:child_process";
import { versionLine } from "../src/version.ts";
import pkg from "../package.json" with { type: "json" };

/** The inputs of a build: a change here (tracked or not) makes the commit `-dirty`. */
const SOURCES = ["src", "scripts", "package.json", "package-lock.json", "tsconfig.json"];

/** 12 hex digits of HEAD, plus `-dirty` when the build's sources differ from it; `unknown` outside git. */
export function gitCommit(cwd = process.cwd()): string {
  const git = (...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  let head: string;
  try {
    head = git("rev-parse", "--short=12", "HEAD");
  } catch {
    return "unknown";
  }
  const dirty = git("status", "--porcelain", "--untracked-files=all", "--", ...SOURCES) !== "";
  return `${head}${dirty ? "-dirty" : ""}`;
}

/** This machine as a release target name: linux-x64, linux-arm64, linux-x64-musl, darwin-arm64… */
export function hostTarget(): string {
  const arch = process.arch === "x64" ? "x64" : process.arch === "arm64" ? "arm64" : process.arch;
  if (process.platform !== "linux") return `${process.platform}-${arch}`;
  // glibc reports its version in the process report; musl does not (Node's own musl check).
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return `linux-${arch}${header?.glibcVersionRuntime ? "" : "-musl"}`;
}

/** The compile flags every build uses, dist/tokenctl and the release binaries (why each: build.ts). */
export const COMPILE_FLAGS = ["--compile", "--minify", "--bytecode", "--format=esm", "--splitting", "--sourcemap=none"];

/** The `--define` flags for `bun build`. */
export function defineArgs(o: { commit: string; target: string }): string[] {
  return ["--define", `TOKENCTL_COMMIT=${JSON.stringify(o.commit)}`, "--define", `TOKENCTL_TARGET=${JSON.stringify(o.target)}`];
}

/** The line `<binary> --version` must print for a build with these defines. */
export function expectedVersionLine(o: { commit: string; target: string }): string {
  return versionLine({ version: pkg.version, ...o });
}

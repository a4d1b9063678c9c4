/**
 * `tokenctl --version`: the version, the git commit and the target the binary was built for.
 * The commit and target are baked in by `bun build --define` (scripts/build-info.ts); run from
 * source they are not defined, and the line says `commit dev, source`.
 */
import pkg from "../package.json" with { type: "json" };

// Replaced at build time by `--define TOKENCTL_COMMIT="…"`; `typeof` keeps an undefined global safe.
declare const TOKENCTL_COMMIT: string | undefined;
declare const TOKENCTL_TARGET: string | undefined;

/** What a build says about itself. */
export interface BuildInfo {
  version: string;
  /** 12 hex digits of the git commit, `-dirty` when the sources differed from it; `dev` from source. */
  commit: string;
  /** linux-x64, linux-arm64, linux-x64-musl, darwin-x64, darwin-arm64; `source` when not compiled. */
  target: string;
}

/** This build's info (from the defines, or the source defaults). */
export function buildInfo(): BuildInfo {
  return {
    version: pkg.version,
    commit: typeof TOKENCTL_COMMIT === "string" ? TOKENCTL_COMMIT : "dev",
    target: typeof TOKENCTL_TARGET === "string" ? TOKENCTL_TARGET : "source",
  };
}

/** The `--version` line: `0.1.0 (commit 0123456789ab, linux-x64)`. */
export function versionLine(info: BuildInfo = buildInfo()): string {
  return `${info.version} (commit ${info.commit}, ${info.target})`;
}

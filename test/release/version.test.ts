/** `tokenctl --version`: the line's shape, the source defaults, and the build defines reaching the bundle. */
import { describe, expect, it } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { defineArgs, expectedVersionLine, gitCommit, hostTarget } from "../../scripts/build-info.ts";
import { buildInfo, versionLine } from "../../src/version.ts";
import { tempDir } from "../support/tmp.ts";

const ROOT = join(import.meta.dir, "..", "..");

describe("versionLine", () => {
  it.each([
    [{ version: "0.1.0", commit: "0123456789ab", target: "linux-x64" }, "0.1.0 (commit 0123456789ab, linux-x64)"],
    [{ version: "0.1.0", commit: "0123456789ab-dirty", target: "darwin-arm64" }, "0.1.0 (commit 0123456789ab-dirty, darwin-arm64)"],
    [{ version: "1.2.3", commit: "dev", target: "source" }, "1.2.3 (commit dev, source)"],
  ])("%o → %s", (info, line) => expect(versionLine(info)).toBe(line));

  it("from source: commit dev, target source", () => {
    expect(buildInfo()).toEqual({ version: pkg.version, commit: "dev", target: "source" });
    const r = spawnSync(process.execPath, [join(ROOT, "src/bin.ts"), "--version"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${pkg.version} (commit dev, source)\n`);
  });
});

describe("build defines", () => {
  it("reach the bundle: a build with defineArgs prints the expected line", () => {
    const out = join(tempDir(), "main.js");
    const info = { commit: "abcdef012345-dirty", target: "linux-arm64" };
    execFileSync(process.execPath, ["build", join(ROOT, "src/bin.ts"), ...defineArgs(info), "--target=bun", "--outfile", out], { stdio: "ignore" });
    const r = spawnSync(process.execPath, [out, "--version"], { encoding: "utf8" });
    expect(r.stdout).toBe(`${expectedVersionLine(info)}\n`);
    expect(r.stdout).toBe(`${pkg.version} (commit abcdef012345-dirty, linux-arm64)\n`);
  });

  it("gitCommit: 12 hex digits of HEAD, -dirty when a source file changes, unknown outside git", () => {
    const repo = tempDir();
    const git = (...a: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...a], { cwd: repo, encoding: "utf8" }).trim();
    git("init", "-q");
    mkdirSync(join(repo, "src"));
    writeFileSync(join(repo, "src", "a.ts"), "1");
    git("add", ".");
    git("commit", "-qm", "x");
    const head = git("rev-parse", "HEAD").slice(0, 12);
    expect(gitCommit(repo)).toBe(head);
    writeFileSync(join(repo, "notes.txt"), "not a build input");
    expect(gitCommit(repo)).toBe(head);
    writeFileSync(join(repo, "src", "b.ts"), "new, untracked");
    expect(gitCommit(repo)).toBe(`${head}-dirty`);
    expect(gitCommit(tempDir())).toBe("unknown");
  });

  it("hostTarget names this machine as the release does", () => {
    expect(hostTarget()).toMatch(/^(linux-(x64|arm64)(-musl)?|darwin-(x64|arm64))$/);
  });
});

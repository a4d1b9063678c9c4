/** The detached refresher's pieces: its command line, its request check, its error mapping, its fd check. */
import { describe, expect, test } from "bun:test";
import { openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuthRefusedError, InsecureFileError, NotFoundError, TokenctlError, UnavailableError, UsageError } from "../../src/errors.ts";
import { errorFromAnswer, parseHelperRequest } from "../../src/oauth/detached.ts";
import { selfCommand } from "../../src/runtime/platform.ts";
import { resolveProfile } from "../../src/oauth/config.ts";
import { tempDir } from "../support/tmp.ts";

const MAIN = join(import.meta.dir, "..", "..", "src", "bin.ts");

describe("selfCommand", () => {
  test.each([
    ["compiled binary: the binary alone", "/usr/bin/tokenctl", ["/usr/bin/tokenctl", "/$bunfs/root/tokenctl", "oauth"], ["/usr/bin/tokenctl"]],
    ["compiled on Windows", "C:\\t\\tokenctl.exe", ["C:\\t\\tokenctl.exe", "B:/~BUN/root/tokenctl.exe"], ["C:\\t\\tokenctl.exe"]],
    ["a script under bun or node", "/usr/bin/bun", ["/usr/bin/bun", "/src/main.ts", "oauth"], ["/usr/bin/bun", "/src/main.ts"]],
  ])("%s", (_n, execPath, argv, want) => {
    expect(selfCommand(execPath, argv, "bun")).toEqual(want);
  });
  test("under Deno: none (the refresh stays in the caller)", () => {
    expect(selfCommand("/usr/bin/deno", ["/usr/bin/deno", "/src/main.ts"], "deno")).toBeUndefined();
  });
});

describe("errorFromAnswer", () => {
  test.each([
    ["usage", 2, UsageError],
    ["untrusted", 2, InsecureFileError],
    ["not_found", 3, NotFoundError],
    ["refused", 4, AuthRefusedError],
    ["unavailable", 5, UnavailableError],
    ["failed", 1, TokenctlError],
  ])("kind %p becomes the class with that kind and exit %p, message and hint kept", (kind, code, cls) => {
    const e = errorFromAnswer({ kind, exitCode: code, message: "m", hint: "h" });
    expect(e).toBeInstanceOf(cls);
    expect({ kind: e.kind as string, code: e.exitCode as number, message: e.message, hint: e.hint }).toEqual({ kind, code, message: "m", hint: "h" });
  });
});

describe("parseHelperRequest", () => {
  const profile = resolveProfile({ profile: "p", issuer: "https://as.example", clientId: "c" }, {});
  test("a request round-trips; anything else is a UsageError", () => {
    const req = { profile, lockPath: "/l", timeoutMs: 1000 };
    expect(parseHelperRequest(JSON.stringify(req))).toEqual(req);
    for (const bad of ["", "{", "null", "[]", JSON.stringify({ ...req, lockPath: 1 }), JSON.stringify({ ...req, profile: { name: "p" } }), JSON.stringify({ ...req, minValidMs: "1" }), JSON.stringify({ ...req, storeKind: "vault" })])
      expect(() => parseHelperRequest(bad)).toThrow(UsageError);
  });
});

describe("oauth refresh-helper", () => {
  test("refuses to refresh when fd 3 is not the lock the request names (exit 2, the answer on stdout)", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "lock"), "");
    writeFileSync(join(dir, "other"), "");
    const profile = resolveProfile({ profile: "p", issuer: "https://as.example", clientId: "c", store: `file:${join(dir, "c.json")}` }, {});
    const fd = openSync(join(dir, "other"), "r");
    const proc = Bun.spawn([process.execPath, MAIN, "oauth", "refresh-helper"], {
      stdio: [new Blob([JSON.stringify({ profile, lockPath: join(dir, "lock"), timeoutMs: 1000 })]), "pipe", "pipe", fd],
    });
    const [out, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), proc.exited]);
    expect(code).toBe(2);
    expect(JSON.parse(out)).toEqual({ ok: false, error: { kind: "usage", exitCode: 2, message: `refresh-helper: fd 3 is not the lock ${join(dir, "lock")}` } });
  });
});

describe("detachedRefresh", () => {
  test("a helper that cannot be started: the refresh runs in this process instead", async () => {
    const { detachedRefresh } = await import("../../src/oauth/detached.ts");
    const profile = resolveProfile({ profile: "p", issuer: "https://as.example", clientId: "c" }, {});
    const record = { accessToken: "a", expiresAt: 1, scopes: [] };
    const store = { kind: "file" as const, description: "memory", lockPath: "/l", read: async () => record, write: async () => {}, remove: async () => true };
    let here = 0;
    const got = await detachedRefresh({ command: [join(tempDir(), "no-such-binary")], profile, timeoutMs: 1000 })({
      store,
      held: { path: "/l", fd: 0, release() {} },
      current: record,
      here: async () => (here++, { record, source: "refreshed" }),
    });
    expect(here).toBe(1);
    expect(got.source).toBe("refreshed");
  });
});

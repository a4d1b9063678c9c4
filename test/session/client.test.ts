import { describe, expect, it } from "bun:test";
import { readdirSync } from "node:fs";
import { tempDir } from "../support/tmp.ts";
import { UnavailableError } from "../../src/errors.ts";
import { mintAndRegister, shellQuote } from "../../src/session/client.ts";
import { SessionRegistry } from "../../src/session/registry.ts";

describe("shellQuote", () => {
  it.each([
    ["/tmp/a b", "'/tmp/a b'"],
    ["/tmp/it's", "'/tmp/it'\\''s'"],
    ["$(x)", "'$(x)'"],
  ])("%s → %s, and sh reads it back unchanged", (value, quoted) => {
    expect(shellQuote(value)).toBe(quoted);
    const echoed = Bun.spawnSync(["sh", "-c", `printf %s ${shellQuote(value)}`]).stdout.toString();
    expect(echoed).toBe(value);
  });
});

describe("mintAndRegister", () => {
  it("registers the minted token", async () => {
    const registry = new SessionRegistry();
    const r = await mintAndRegister({ register: async (i) => registry.register(i) }, { pid: 42, cwd: "/w", name: "n", scope: "s", dir: tempDir() });
    expect(r.session).toMatchObject({ pid: 42, cwd: "/w", name: "n", scope: "s" });
    expect(registry.size).toBe(1);
  });

  it("removes the directory when registration fails: a failed mint leaves no token behind", async () => {
    const dir = tempDir();
    const p = mintAndRegister({ register: async () => Promise.reject(new UnavailableError("gone")) }, { pid: 1, cwd: "/", dir });
    await expect(p).rejects.toBeInstanceOf(UnavailableError);
    expect(readdirSync(dir)).toEqual([]);
  });
});

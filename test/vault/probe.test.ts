import { describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runProbe } from "../../src/vault/probe.ts";
import { tempDir } from "../support/tmp.ts";

describe("runProbe", () => {
  it("runs through /bin/sh and reports the exit status", async () => {
    expect(await runProbe("exit 0", { PATH: process.env.PATH })).toBe(true);
    expect(await runProbe("test 1 = 2", { PATH: process.env.PATH })).toBe(false);
  });
  it("does not hand the probe VAULT_TOKEN", async () => {
    expect(await runProbe('[ -z "${VAULT_TOKEN:-}" ] && [ "$KEEP" = 1 ]', { PATH: process.env.PATH, VAULT_TOKEN: "hvs.MARKER", KEEP: "1" })).toBe(true);
  });
  it("kills a probe that outlives its limit and calls it a failure", async () => {
    const dir = tempDir();
    // Were it not killed, it would exit 0 after writing the file.
    expect(await runProbe(`sleep 5; touch ${dir}/finished`, { PATH: process.env.PATH }, 100)).toBe(false);
    expect(existsSync(join(dir, "finished"))).toBe(false);
  });
});

import { describe, expect, it } from "bun:test";
import { runProbe } from "../../src/vault/probe.ts";

describe("runProbe", () => {
  it("runs through /bin/sh and reports the exit status", async () => {
    expect(await runProbe("exit 0", { PATH: process.env.PATH })).toBe(true);
    expect(await runProbe("test 1 = 2", { PATH: process.env.PATH })).toBe(false);
  });
  it("does not hand the probe VAULT_TOKEN", async () => {
    expect(await runProbe('[ -z "${VAULT_TOKEN:-}" ] && [ "$KEEP" = 1 ]', { PATH: process.env.PATH, VAULT_TOKEN: "hvs.MARKER", KEEP: "1" })).toBe(true);
  });
  it("kills a probe that outlives its limit and calls it a failure", async () => {
    const t0 = performance.now();
    expect(await runProbe("sleep 5", { PATH: process.env.PATH }, 100)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

/** The daemon's runtime edge: feature detection and the open-file budget. */
import { describe, expect, it } from "bun:test";
import { fileBudget, unixServerSupported } from "../../src/runtime/unix-server.ts";

describe("unixServerSupported", () => {
  it("is true where Bun.listen exists, false under Node or Deno (no Bun global)", () => {
    expect(unixServerSupported()).toBe(true);
    expect(unixServerSupported({})).toBe(false);
    expect(unixServerSupported({ Bun: {} })).toBe(false);
    expect(unixServerSupported({ Bun: { listen() {} } })).toBe(true);
  });
});

describe("fileBudget", () => {
  it.if(process.platform === "linux")("reads the soft open-file limit and the fds open now", () => {
    const b = fileBudget();
    expect(b).toBeDefined();
    expect(b!.limit).toBeGreaterThan(b!.open);
    expect(b!.open).toBeGreaterThan(2);
  });
});

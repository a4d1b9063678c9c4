import { expect, test } from "bun:test";
import { describePlatform, detectRuntime, platform } from "../../src/runtime/platform.ts";
import { loadBunFfi } from "../../src/runtime/ffi.ts";

test.each([
  [{ Bun: {}, Deno: undefined }, "bun"],
  [{ Deno: {} }, "deno"], // Deno also defines process: the Deno global decides
  [{ Deno: undefined }, "node"],
  [{}, "node"],
] as const)("detectRuntime(%p) is %s", (globals, expected) => {
  expect(detectRuntime(globals)).toBe(expected);
});

test("this test runs under Bun on this OS", () => {
  expect(platform()).toEqual({ runtime: "bun", os: process.platform });
  expect(describePlatform({ runtime: "node", os: "darwin" })).toMatch(/^Node( \S+)? on darwin$/);
});

test("bun:ffi is loaded only for Bun", () => {
  expect(typeof loadBunFfi({ runtime: "bun", os: "linux" })?.dlopen).toBe("function");
  expect(loadBunFfi({ runtime: "node", os: "linux" })).toBeUndefined();
  expect(loadBunFfi({ runtime: "deno", os: "linux" })).toBeUndefined();
});

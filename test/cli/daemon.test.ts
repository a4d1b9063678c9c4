import { expect, it } from "bun:test";
import { parseDuration } from "../../src/cli/daemon.ts";

it.each([
  ["5s", 5000],
  ["250ms", 250],
  ["0.5", 500],
  ["2", 2000],
])("--auth-timeout %s is %d ms", (input, ms) => {
  expect(parseDuration("--auth-timeout", input)).toBe(ms);
});

it.each(["", "abc", "-1s", "0", "0ms", "5m"])("--auth-timeout %p is a usage error", (input) => {
  expect(() => parseDuration("--auth-timeout", input)).toThrow(/--auth-timeout expects a duration/);
});

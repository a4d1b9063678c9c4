import { expect, it } from "bun:test";
import { UsageError } from "../src/errors.ts";
import { parseDuration } from "../src/duration.ts";

it.each([
  ["5s", 5000],
  ["250ms", 250],
  ["0.5", 500],
  ["2", 2000],
  ["5m", 300_000],
  ["1h", 3_600_000],
  [" 30s ", 30_000],
])("%p is %d ms", (input, ms) => {
  expect(parseDuration(input, "--auth-timeout")).toBe(ms);
});

it.each(["", "abc", "-1s", "0", "0ms", "0.0001", "5 m", "1d", "1e3"])("%p is a usage error naming the flag", (input) => {
  expect(() => parseDuration(input, "--auth-timeout")).toThrow(UsageError);
  expect(() => parseDuration(input, "--auth-timeout")).toThrow(/--auth-timeout: expected a duration/);
});

it("a cap is enforced and stated", () => {
  expect(parseDuration("3600", "--timeout", 3_600_000)).toBe(3_600_000);
  expect(() => parseDuration("2h", "--timeout", 3_600_000)).toThrow(/at most 3600s/);
});

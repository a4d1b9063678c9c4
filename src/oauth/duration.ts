/** Durations on the command line: "500ms", "30s", "5m", "1h"; a bare number is seconds. */
import { UsageError } from "../errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds for `value`; `flag` names the flag in the error. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`${flag}: expected a duration such as 30s, 5m or 1h, found "${value}"`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
}

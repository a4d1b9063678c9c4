/**
 * Durations on the command line, one syntax for every flag: "250ms", "30s", "5m", "1h"; a bare
 * number is seconds ("2.5" is 2500 ms). Zero and negative durations are refused.
 */
import { UsageError } from "./errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds for `value`; `flag` names the flag in the error; `maxMs` caps it when given. */
export function parseDuration(value: string, flag: string, maxMs?: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const ms = m ? Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!) : Number.NaN;
  if (!(ms >= 1) || (maxMs !== undefined && ms > maxMs))
    throw new UsageError(
      `${flag}: expected a duration such as 250ms, 30s, 5m or 1h${maxMs !== undefined ? ` (at most ${maxMs / 1000}s)` : ""}, found "${value}"`,
    );
  return ms;
}

/** Doctor's table: one row per check, the fixing command under each problem row. Pure. */
import type { Check } from "./paths.ts";

const LABEL = { ok: "ok", warn: "WARN", fail: "FAIL", skip: "skip" } as const;

/** The report as text: STATUS, CHECK, DETAIL columns; `fix:` lines under warn/fail rows; a summary line. */
export function formatTable(checks: Check[]): string {
  const nameWidth = Math.max(5, ...checks.map((c) => c.name.length));
  const lines = [`${"STATUS".padEnd(6)}  ${"CHECK".padEnd(nameWidth)}  DETAIL`];
  for (const c of checks) {
    lines.push(`${LABEL[c.status].padEnd(6)}  ${c.name.padEnd(nameWidth)}  ${c.detail}`);
    if (c.fix && (c.status === "fail" || c.status === "warn")) lines.push(`${"".padEnd(6)}  ${"".padEnd(nameWidth)}  fix: ${c.fix}`);
  }
  return `${lines.join("\n")}\n`;
}

/** "2 problems, 1 warning" for stderr. */
export function summarize(checks: Check[]): string {
  const n = (s: Check["status"]) => checks.filter((c) => c.status === s).length;
  const fails = n("fail");
  const warns = n("warn");
  if (!fails && !warns) return `All ${checks.length} checks passed (${n("skip")} skipped)`;
  const part = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
  return `${part(fails, "problem")}, ${part(warns, "warning")} in ${checks.length} checks`;
}

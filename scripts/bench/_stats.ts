/** Small helpers shared by the benchmarks: medians, percentiles, and aligned tables on stdout. */

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export const median = (values: number[]) => percentile(values, 50);

export function table(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return "";
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c] ?? "").length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(cols), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c] ?? ""))))].join("\n");
}

/**
 * Run each command `iterations` times, alternating between them so load drifts hit all alike;
 * returns the wall times in ms by name. A non-zero exit stops the bench.
 */
export function alternate(subjects: Array<readonly [string, string[]]>, iterations: number, env: Record<string, string | undefined>): Map<string, number[]> {
  const times = new Map<string, number[]>(subjects.map(([n]) => [n, []]));
  for (let i = 0; i < iterations; i++) {
    for (const [name, cmd] of subjects) {
      const t0 = Bun.nanoseconds();
      const r = Bun.spawnSync(cmd, { env, stdout: "ignore", stderr: "pipe" });
      const ms = (Bun.nanoseconds() - t0) / 1e6;
      if (r.exitCode !== 0) throw new Error(`${name} failed: ${r.stderr.toString()}`);
      times.get(name)!.push(ms);
    }
  }
  return times;
}

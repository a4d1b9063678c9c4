/**
 * Cold start of `dist/tokenctl token get` reading a token file, against `cat` of the same file (the
 * floor of any process) and `gh auth token` (a Go credential CLI; Debian's gh package), alternated
 * in one run so machine noise hits all three alike. Prints medians, p90, ratios and peak RSS.
 *
 *   bun scripts/bench/token.ts [iterations=200] [--compare BIN]
 *
 * --compare BIN adds another tokenctl binary (an earlier build) to the same alternated rounds, so a
 * change's effect on start-up is read as a ratio to the build before it.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alternate, median, percentile, table } from "./_stats.ts";

const argv = process.argv.slice(2);
const at = argv.indexOf("--compare");
const compare = at === -1 ? undefined : argv.splice(at, 2)[1];
const iterations = Number(argv[0] ?? 200);
const bin = join(import.meta.dir, "..", "..", "dist", "tokenctl");
const dir = mkdtempSync(join(tmpdir(), "tokenctl-bench-"));
const file = join(dir, "token");
writeFileSync(file, "tok-bench-0123456789abcdef", { mode: 0o600 });
const ghDir = join(dir, "gh");
mkdirSync(ghDir, { mode: 0o700 });
writeFileSync(join(ghDir, "hosts.yml"), "github.com:\n    oauth_token: gho_bench\n    user: bench\n    git_protocol: https\n", { mode: 0o600 });

const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TOKENCTL_TOKEN_FILE: file, GH_CONFIG_DIR: ghDir };
const hasGh = Bun.spawnSync(["sh", "-c", "command -v gh"]).exitCode === 0;
const subjects: Array<[string, string[]]> = [
  ["tokenctl token get", [bin, "token", "get"]],
  ...(compare ? ([[`${compare} token get`, [compare, "token", "get"]]] as Array<[string, string[]]>) : []),
  ["cat (floor)", ["cat", file]],
  ...(hasGh ? ([["gh auth token", ["gh", "auth", "token"]]] as Array<[string, string[]]>) : []),
];
if (!hasGh) console.error("gh not found: install Debian's gh package for the comparison (apt-get install gh)");

for (const [, cmd] of subjects) Bun.spawnSync(cmd, { env }); // warm the page cache
const times = alternate(subjects, iterations, env);

/** Peak RSS in MiB over a few runs, from GNU time (getrusage of spawnSync reports the max of all children so far). */
function peakRss(cmd: string[]): number | string {
  if (Bun.spawnSync(["sh", "-c", "command -v /usr/bin/time"]).exitCode !== 0) return "n/a (install GNU time)";
  let peak = 0;
  for (let i = 0; i < 10; i++) {
    const r = Bun.spawnSync(["/usr/bin/time", "-f", "%M", ...cmd], { env, stdout: "ignore", stderr: "pipe" });
    const kb = Number(r.stderr.toString().trim().split("\n").pop());
    peak = Math.max(peak, kb / 1024);
  }
  return peak;
}

// Back to back as well: alternating with gh (a 27 MiB Go process) evicts caches that a script
// calling `token get` in a loop keeps warm, and costs tokenctl ~1.5 ms. Both figures are honest.
const warm = new Map<string, number[]>(subjects.map(([n]) => [n, []]));
for (const [name, cmd] of subjects) {
  for (let i = 0; i < Math.max(20, iterations / 2); i++) {
    const t0 = Bun.nanoseconds();
    Bun.spawnSync(cmd, { env, stdout: "ignore", stderr: "ignore" });
    warm.get(name)!.push((Bun.nanoseconds() - t0) / 1e6);
  }
}

const base = median(times.get("tokenctl token get")!);
console.log(`token get cold start, ${iterations} alternated runs each (${process.platform}, ${navigator.hardwareConcurrency} cores)\n`);
console.log(
  table(
    subjects.map(([name]) => ({
      command: name,
      "median ms (alternated)": median(times.get(name)!),
      "p90 ms": percentile(times.get(name)!, 90),
      "tokenctl / this": base / median(times.get(name)!),
      "median ms (back to back)": median(warm.get(name)!),
      "peak RSS MiB": peakRss(subjects.find(([n]) => n === name)![1]),
    })),
  ),
);

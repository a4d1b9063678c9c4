/**
 * Cold start of `token get` (reading a token file) from the compiled binary, from the npm package's
 * CLI under Node (`node dist/npm/bin.js`) and under Deno (`deno run -A dist/npm/bin.js`),
 * alternated in one run so machine noise hits all three alike. Prints medians, p90, the ratio to
 * the binary, and the load average before and after (the figures only compare within one run).
 * Needs dist/tokenctl (`npm run build`); builds dist/npm (`npm run build:npm`) when it is missing.
 *
 *   bun scripts/bench/runtimes.ts [iterations=40]
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { alternate, median, percentile, table } from "./_stats.ts";

const iterations = Number(process.argv[2] ?? 40);
const root = join(import.meta.dir, "..", "..");
const bin = join(root, "dist", "tokenctl");
const npmBin = join(root, "dist", "npm", "bin.js");
if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build`);
// `npm run bench` builds only the binary: build the npm package's files here when they are missing.
if (!existsSync(npmBin) && Bun.spawnSync([process.execPath, join(root, "scripts", "build.ts"), "--npm"], { cwd: root, stdout: "inherit", stderr: "inherit" }).exitCode !== 0)
  throw new Error("bun scripts/build.ts --npm failed");

function which(name: string, extra: string[] = []): string | undefined {
  return [...extra, ...(process.env.PATH ?? "").split(delimiter)].map((d) => join(d, name)).find((p) => existsSync(p));
}
const node = which("node");
const deno = which("deno", [join(root, "node_modules", ".bin")]);

const dir = mkdtempSync(join(tmpdir(), "tokenctl-bench-"));
const file = join(dir, "token");
writeFileSync(file, "tok-bench-0123456789abcdef", { mode: 0o600 });
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, TOKENCTL_TOKEN_FILE: file, DENO_DIR: join(dir, "deno"), DENO_NO_UPDATE_CHECK: "1" };

// An empty module under each runtime: the floor of its start, to tell its cost from ours.
const empty = join(dir, "empty.mjs");
writeFileSync(empty, "");
const subjects: Array<[string, string[]]> = [
  ["binary: tokenctl token get", [bin, "token", "get"]],
  ...(node
    ? ([
        ["node dist/npm/bin.js token get", [node, npmBin, "token", "get"]],
        ["node empty.mjs (floor)", [node, empty]],
      ] as Array<[string, string[]]>)
    : []),
  ...(deno
    ? ([
        ["deno run -A dist/npm/bin.js token get", [deno, "run", "-A", npmBin, "token", "get"]],
        ["deno run -A empty.mjs (floor)", [deno, "run", "-A", empty]],
      ] as Array<[string, string[]]>)
    : []),
];
if (!node) console.error("node not found on PATH: its row is missing");
if (!deno) console.error("deno not found (npm install brings it as a dev dependency): its row is missing");

const load0 = loadavg();
for (const [name, cmd] of subjects) {
  // Warm the page cache (and Deno's module cache) and check the answer once.
  const r = Bun.spawnSync(cmd, { env, stdout: "pipe", stderr: "pipe" });
  const want = name.includes("(floor)") ? "" : "tok-bench-0123456789abcdef\n";
  if (r.exitCode !== 0 || r.stdout.toString() !== want) throw new Error(`${name} failed: ${r.stderr.toString()}`);
}
const times = alternate(subjects, iterations, env);
const load1 = loadavg();

const base = median(times.get(subjects[0]![0])!);
console.log(`token get cold start by runtime, ${iterations} alternated runs each (${process.platform}, ${navigator.hardwareConcurrency} cores)`);
console.log(`load average (1 min) ${load0[0]!.toFixed(2)} before, ${load1[0]!.toFixed(2)} after\n`);
console.log(
  table(
    subjects.map(([name]) => ({
      command: name,
      "median ms": median(times.get(name)!),
      "p90 ms": percentile(times.get(name)!, 90),
      "this / binary": median(times.get(name)!) / base,
    })),
  ),
);

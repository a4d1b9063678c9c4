/**
 * Run the compiled binary the way a shell script would. Smoke tests (test/smoke/) use this;
 * `npm test` builds dist/tokenctl before running them.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** dist/tokenctl, or the binary TOKENCTL_TEST_BIN names (CI runs the smoke tests on the installed release binary too). */
export const BIN = process.env.TOKENCTL_TEST_BIN || join(import.meta.dir, "..", "..", "dist", "tokenctl");

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface BinOptions {
  env?: Record<string, string | undefined>;
  stdin?: string;
  cwd?: string;
  /** Extra fds for the child, from fd 3 on (Bun.spawn's stdio array). */
  extraFds?: number[];
  timeoutMs?: number;
}

/** A clean env for the child: PATH and HOME only, plus what the test passes. */
export function childEnv(env: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...env };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Run dist/tokenctl with args; resolves with exit code and captured output. */
export async function runBin(args: string[], opts: BinOptions = {}): Promise<BinResult> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
  const stdin = opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]);
  const proc = Bun.spawn([BIN, ...args], {
    env: childEnv(opts.env),
    cwd: opts.cwd,
    stdio: [stdin, "pipe", "pipe", ...(opts.extraFds ?? [])] as ["ignore", "pipe", "pipe"],
    timeout: opts.timeoutMs ?? 20_000,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream).text(),
    new Response(proc.stderr as ReadableStream).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

export interface DaemonReady {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** The `--json` ready line as printed. */
  line: string;
  ready: { socket: string; tokenFile: string; pid: number };
}

/** Start `dist/tokenctl daemon --json …` and wait for its ready line on stdout. */
export async function spawnDaemon(args: string[], env: Record<string, string | undefined>): Promise<DaemonReady> {
  const proc = Bun.spawn([BIN, "daemon", "--json", ...args], { env: childEnv(env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`daemon exited before ready: ${await new Response(proc.stderr).text()}`);
    line += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { proc, line, ready: JSON.parse(line.trim()) };
}

/**
 * Shell examples in the docs: the check for idioms that hide a failure, and a sandbox that runs a
 * token-reader example under `sh -e` with a given tokenctl on PATH and a recording `curl`.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codeBlocks, markdownFiles, SHELL_LANGS, type CodeBlock } from "./markdown.ts";

/**
 * `export NAME=$(cmd)` (and readonly/local/declare/typeset) returns the builtin's status, 0, not
 * cmd's: `|| exit` and `set -e` never see cmd fail. Assign first, then export.
 */
const MASKING = /(?:^|[\s;&|({])(export|readonly|local|declare|typeset)\s+(?:-\w+\s+)*[A-Za-z_]\w*=["']?(?:\$\(|`)/;

/** The problem with one shell line, or undefined. */
export function maskedStatus(line: string): string | undefined {
  const m = MASKING.exec(line);
  return m ? `\`${m[1]} NAME=$(…)\` returns ${m[1]}'s status (0), so a failing command goes unnoticed; write \`NAME=$(…) || exit\`, then \`${m[1]} NAME\`` : undefined;
}

/** Every shell code block of README.md, CONTRIBUTING.md and docs/**. */
export function shellBlocks(): CodeBlock[] {
  return markdownFiles().flatMap((f) => codeBlocks(f)).filter((b) => SHELL_LANGS.has(b.info[0] ?? ""));
}

/** Blocks marked to be run: ```sh run */
export function runnableBlocks(): CodeBlock[] {
  return shellBlocks().filter((b) => b.info[0] === "sh" && b.info.includes("run"));
}

export interface Sandbox {
  dir: string;
  env: Record<string, string>;
  /** argv lines and stdin of every curl call, in order. */
  curlCalls(): Array<{ argv: string[]; stdin: string }>;
}

/** A private directory with `tokenctl` (the given executable) and a recording `curl` first on PATH. */
export function sandbox(dir: string, tokenctl: string): Sandbox {
  const bin = join(dir, "bin");
  for (const d of [bin, join(dir, "home"), join(dir, "state"), join(dir, "config"), join(dir, "run"), join(dir, "curl")]) mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(bin, "tokenctl"), `#!/bin/sh\nexec ${tokenctl} "$@"\n`, { mode: 0o755 });
  // Records each call: argv one per line, stdin as it came; answers like a server would.
  const log = join(dir, "curl");
  writeFileSync(
    join(bin, "curl"),
    `#!/bin/sh\nn=$(ls "${log}" | wc -l)\nprintf '%s\\n' "$@" > "${log}/$n.argv"\ncat > "${log}/$n.stdin"\necho '{"ok":true}'\n`,
    { mode: 0o755 },
  );
  chmodSync(join(dir, "run"), 0o700);
  return {
    dir,
    env: {
      PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
      HOME: join(dir, "home"),
      XDG_STATE_HOME: join(dir, "state"),
      XDG_CONFIG_HOME: join(dir, "config"),
      XDG_RUNTIME_DIR: join(dir, "run"),
      NO_COLOR: "1",
    },
    curlCalls() {
      const calls: Array<{ argv: string[]; stdin: string }> = [];
      for (let i = 0; existsSync(join(log, `${i}.argv`)); i++)
        calls.push({ argv: readFileSync(join(log, `${i}.argv`), "utf8").split("\n").slice(0, -1), stdin: readFileSync(join(log, `${i}.stdin`), "utf8") });
      return calls;
    },
  };
}

/** Run a script under `sh -e` in the sandbox. */
export function runSh(box: Sandbox, script: string, env: Record<string, string> = {}) {
  const file = join(box.dir, `script-${Math.random().toString(16).slice(2)}.sh`);
  writeFileSync(file, script);
  const r = spawnSync("sh", ["-e", file], { cwd: box.dir, env: { ...box.env, ...env }, encoding: "utf8", timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

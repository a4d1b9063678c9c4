/**
 * The leak guard: run scenarios through the compiled binary with known secrets, then scan
 * everything they produced for them.
 *
 * Secrets are registered by kind: markers we plant (`LEAKMARK-<kind>-<random>`, or 64 random hex
 * digits where the format demands it: daemon and session tokens) and values the system made that
 * we read back from the files holding them (an access token oidc-provider issued). A secret is
 * found when its value, or its base64, or its random core (so a re-prefixed copy still counts)
 * appears in:
 *  - stdout of every command not declared as printing a secret (`printsSecret`), and all stderr;
 *  - the argv tokenctl was given (a scenario that needs a secret in argv is a design bug);
 *  - every file under the workspace (logs, state, config, locks, recorders' output) except the
 *    files whose job is to hold a secret, each allowed explicitly with a reason (`holds`);
 *  - extra texts a test adds with `record` (the daemon's stderr, /proc/<pid>/cmdline, a response).
 * Recorders (`recorder`) are shell scripts named like a real tool, first on PATH, that append
 * their argv (and, when asked, stdin and env) to files under the workspace, which the file scan
 * then covers.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, relative } from "node:path";
import { runBin, type BinOptions, type BinResult } from "./bin.ts";

export interface Secret {
  kind: string;
  value: string;
}

export interface Leak {
  kind: string;
  place: string;
  /** Which form was found: the value, its base64, or its random core. */
  form: "value" | "base64" | "core";
}

/** A distinct, greppable marker secret. */
export function marker(kind: string): string {
  return `LEAKMARK-${kind}-${randomBytes(12).toString("hex")}`;
}

/** A marker in the 64-lowercase-hex shape daemon and session tokens must have. */
export function hexMarker(): string {
  return randomBytes(32).toString("hex");
}

interface Text {
  place: string;
  text: string;
}

/** Forms of a secret to look for; the core is the random part of a LEAKMARK marker. */
function forms(s: Secret): Array<[Leak["form"], string]> {
  const out: Array<[Leak["form"], string]> = [["value", s.value]];
  if (s.value.length >= 12) out.push(["base64", Buffer.from(s.value).toString("base64").replace(/=+$/, "")]);
  const core = /^LEAKMARK-.+-([0-9a-f]{24})$/.exec(s.value)?.[1];
  if (core) out.push(["core", core]);
  return out;
}

/** Search `texts` for `secrets`; pure, so the guard itself can be tested. */
export function scan(secrets: Secret[], texts: Text[]): Leak[] {
  const leaks: Leak[] = [];
  for (const { place, text } of texts)
    for (const s of secrets)
      for (const [form, needle] of forms(s))
        if (needle && text.includes(needle)) {
          leaks.push({ kind: s.kind, place, form });
          break;
        }
  return leaks;
}

export interface RunOptions extends BinOptions {
  /** This command's job is to print a secret on stdout (token get, oauth token): stdout is not scanned. */
  printsSecret?: boolean;
}

export class LeakGuard {
  readonly secrets: Secret[] = [];
  private readonly texts: Text[] = [];
  private readonly holders = new Map<string, string>();
  private readonly roots: string[] = [];
  /** Directory of the recording wrappers; put it first on PATH (see `env`). */
  readonly binDir: string;
  /** Where recorders write. */
  readonly recordDir: string;

  constructor(readonly workspace: string) {
    this.binDir = join(workspace, "leak-bin");
    this.recordDir = join(workspace, "leak-record");
    mkdirSync(this.binDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.recordDir, { recursive: true, mode: 0o700 });
    this.roots.push(workspace);
  }

  /** Register a secret; returns its value. Without a value, a fresh marker of this kind. */
  secret(kind: string, value = marker(kind)): string {
    if (!value) throw new Error(`leak guard: empty secret for ${kind}`);
    if (!this.secrets.some((s) => s.value === value)) this.secrets.push({ kind, value });
    return value;
  }

  /** Allow `path` to hold secrets: its job is to (a credentials file, a token file). */
  holds(path: string, why: string): void {
    this.holders.set(path, why);
  }

  /** Files allowed to hold secrets, with the reason (for the report and for review). */
  allowed(): Array<[string, string]> {
    return [...this.holders];
  }

  /** Also walk this directory (beyond the workspace) when scanning files. */
  scanDir(dir: string): void {
    this.roots.push(dir);
  }

  /** Add something produced to the scan. */
  record(place: string, text: string): void {
    this.texts.push({ place, text });
  }

  /**
   * A wrapper named `name`, first on PATH, recording its argv (one line per argument) to
   * `<recordDir>/<name>.argv`, and with `stdin`/`env` its stdin and environment too. It then runs
   * `then` (a shell snippet; default: exit 0).
   */
  recorder(name: string, opts: { stdin?: boolean; env?: boolean; then?: string } = {}): string {
    const base = join(this.recordDir, name);
    const script = [
      "#!/bin/sh",
      `printf '%s\\n' "--- $$" "$@" >> '${base}.argv'`,
      opts.env ? `env >> '${base}.env'` : "",
      opts.stdin ? `cat >> '${base}.stdin'` : "",
      opts.then ?? "exit 0",
      "",
    ].join("\n");
    const path = join(this.binDir, name);
    writeFileSync(path, script);
    chmodSync(path, 0o700);
    return path;
  }

  /** PATH with the recorders first. */
  path(): string {
    return `${this.binDir}:${process.env.PATH}`;
  }

  /** Run dist/tokenctl; its argv, stderr and (unless it prints a secret) stdout join the scan. */
  async run(args: string[], opts: RunOptions = {}): Promise<BinResult> {
    const label = `tokenctl ${args.filter((a) => !a.startsWith("/")).slice(0, 3).join(" ")}`;
    const r = await runBin(args, { ...opts, env: { PATH: this.path(), ...opts.env } });
    this.record(`argv of ${label}`, args.join("\n"));
    this.record(`stderr of ${label} (exit ${r.code})`, r.stderr);
    if (!opts.printsSecret) this.record(`stdout of ${label} (exit ${r.code})`, r.stdout);
    return r;
  }

  /** The daemon's command line, as `ps` shows it to every user. */
  recordCmdline(pid: number, what = "daemon"): void {
    this.record(`/proc/${pid}/cmdline of the ${what}`, readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "));
  }

  private files(): Text[] {
    const out: Text[] = [];
    const walk = (dir: string, root: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        if (p === this.binDir) continue;
        if (st.isDirectory()) walk(p, root);
        else if (st.isFile() && !this.holders.has(p)) out.push({ place: `file ${relative(root, p) || p} (under ${root})`, text: readFileSync(p, "latin1") });
      }
    };
    for (const root of this.roots) walk(root, root);
    return out;
  }

  /** Every leak found so far, files included. */
  leaks(): Leak[] {
    return scan(this.secrets, [...this.texts, ...this.files()]);
  }

  /** Throw naming each leak's secret kind and place. */
  assertClean(): void {
    if (this.secrets.length === 0) throw new Error("leak guard: no secrets registered, so the scan would prove nothing");
    const leaks = this.leaks();
    if (leaks.length) throw new Error(`secrets leaked:\n${leaks.map((l) => `  ${l.kind} (${l.form}) in ${l.place}`).join("\n")}`);
  }
}

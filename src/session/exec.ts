/**
 * `session exec`: run a command as its own session. Mint a token file, start the command with
 * TOKENCTL_SESSION_TOKEN_FILE pointing at it, register the command's pid with the daemon, forward
 * SIGINT/SIGTERM/SIGHUP, and on exit revoke the session and remove the directory.
 *
 * Registration must happen before the command can ask who it is, and must name the command's own
 * pid. So the child starts as `/bin/sh` waiting on a socket at fd 3; once the daemon knows the pid
 * we write one line and the shell `exec`s the command in the same process (same pid). If we die
 * before that, the read sees EOF and the command never runs.
 */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import type { Writable } from "node:stream";
import { constants } from "node:os";
import { UnavailableError, UsageError, errnoCode } from "../errors.ts";
import type { Env } from "../fs/paths.ts";
import type { SessionRecord } from "./registry.ts";
import { TOKEN_ENV, TOKEN_FILE_ENV, type MintedSession, mintSessionFile, removeSessionDir } from "./token.ts";

/** What exec needs from the daemon; the CLI adapts src/daemon/client.ts to it. */
export interface SessionService {
  register(input: { token: string; name?: string; scope?: string; pid: number; cwd: string }): Promise<SessionRecord>;
  revoke(id: string): Promise<unknown>;
  close?(): void;
}

/** The signals forwarded to the command. */
export const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

/** Where exec hears signals; `process` by default, a fake in tests. */
export interface SignalSource {
  on(signal: ForwardedSignal, listener: () => void): unknown;
  off(signal: ForwardedSignal, listener: () => void): unknown;
}

export interface ExecSessionOptions {
  command: string[];
  name?: string;
  scope?: string;
  /** Parent directory for the session directory (--dir). */
  dir?: string;
  /** Refuse to run without a daemon (UnavailableError, exit 5) instead of warning. */
  requireDaemon?: boolean;
  /** Connect to the daemon; throws UnavailableError when none is running. */
  connect: () => Promise<SessionService>;
  env?: Env;
  cwd?: string;
  /** Human warnings (stderr in the CLI). */
  warn?: (message: string) => void;
  signals?: SignalSource;
  /** Called once the command runs, with what it was given; for tests and --verbose. */
  onStart?: (info: { pid: number; tokenFile: string; dir: string; session?: SessionRecord }) => void;
  /** The command's stdout: inherited by default, or an fd (tests pass a file's). */
  stdout?: "inherit" | number;
}

export interface ExecSessionResult {
  /** The command's exit status, or 128 + signal number when a signal ended it. */
  code: number;
  signal?: string;
  session?: SessionRecord;
}

const GATE = 'IFS= read -r go <&3 || exit 125; exec "$@" 3<&-';

/** The exit status a shell reports for a process ended by `signal`. */
export function signalExitCode(signal: string): number {
  const n = (constants.signals as Record<string, number>)[signal];
  return 128 + (n ?? 0);
}

/** Build the command's environment: the token file's path, never the token, and no inherited token value. */
export function childEnv(env: Env, tokenFile: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== TOKEN_ENV) out[k] = v;
  out[TOKEN_FILE_ENV] = tokenFile;
  return out;
}

export interface StartCommandOptions {
  /** argv[0] is looked up on PATH (of `env`). */
  argv: string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  stdio: StdioOptions;
  /** Where SIGINT/SIGTERM/SIGHUP come from to be forwarded; `process` by default. */
  signals?: SignalSource;
}

export interface RunningCommand {
  child: ChildProcess;
  pid: number;
  /** Resolves when it has exited: its status, or 128+n when signal n ended it (as shells report). */
  exited: Promise<{ code: number; signal?: string }>;
}

/**
 * Start a command with node:child_process, forward SIGINT, SIGTERM and SIGHUP to it until it exits,
 * and report its status as a shell would. A command that cannot be started (not found, not
 * executable) is a UsageError (exit 2); nothing ran.
 */
export async function startCommandChecked(options: StartCommandOptions): Promise<RunningCommand> {
  const run = startCommand(options);
  await run.spawned;
  return run;
}

function startCommand(options: StartCommandOptions): RunningCommand & { spawned: Promise<void> } {
  const signals = options.signals ?? (process as unknown as SignalSource);
  const child = spawn(options.argv[0]!, options.argv.slice(1), { env: options.env, cwd: options.cwd, stdio: options.stdio });
  const forwarders = FORWARDED_SIGNALS.map((sig) => {
    const listener = () => {
      try {
        child.kill(sig);
      } catch {
        // Already exited: nothing to forward to.
      }
    };
    signals.on(sig, listener);
    return [sig, listener] as const;
  });
  const stopForwarding = () => {
    for (const [sig, listener] of forwarders) signals.off(sig, listener);
  };
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (e) => {
      stopForwarding();
      const why = errnoCode(e) === "ENOENT" ? "command not found" : errnoCode(e) === "EACCES" ? "not executable" : (errnoCode(e) ?? "error");
      reject(new UsageError(`Could not run ${JSON.stringify(options.argv[0])}: ${why}`, { cause: e }));
    });
  });
  // "exit", not "close": a grandchild keeping an inherited pipe open must not hold us.
  const exited = new Promise<{ code: number; signal?: string }>((resolve, reject) => {
    spawned.catch(reject);
    child.once("exit", (code, signal) => {
      stopForwarding();
      resolve(signal ? { code: signalExitCode(signal), signal } : { code: code ?? 0 });
    });
  });
  spawned.catch(() => {});
  exited.catch(() => {});
  return { child, pid: child.pid ?? -1, exited, spawned };
}

/** Run `command` as a fresh session; see the module comment. Resolves when it has exited and everything is cleaned. */
export async function execSession(options: ExecSessionOptions): Promise<ExecSessionResult> {
  const env = options.env ?? process.env;
  const warn = options.warn ?? (() => {});
  const signals = options.signals ?? (process as unknown as SignalSource);
  const cwd = options.cwd ?? process.cwd();

  let service: SessionService | undefined;
  try {
    service = await options.connect();
  } catch (e) {
    if (!(e instanceof UnavailableError)) throw e;
    if (options.requireDaemon) throw e;
    warn(`${e.message}; running the command with an unregistered session token`);
  }

  let minted: MintedSession | undefined;
  let session: SessionRecord | undefined;
  try {
    minted = mintSessionFile({ dir: options.dir, env });
    // fd 3 is a socket pair (node:child_process's "pipe" beyond stdio): the gate's line, or its EOF.
    const run = startCommand({
      argv: ["/bin/sh", "-c", GATE, options.command[0]!, ...options.command],
      env: childEnv(env, minted.file),
      cwd,
      stdio: ["inherit", options.stdout ?? "inherit", "inherit", "pipe"],
      signals,
    });
    const gate = run.child.stdio[3] as Writable;
    gate.on("error", () => {}); // EPIPE once the command has gone: its status says what happened.
    let released = false;
    // Nothing has run yet while the gate is closed without a line: the shell exits 125.
    const shut = (line: string) => {
      if (released) return;
      released = true;
      gate.end(line);
    };
    try {
      if (service) {
        try {
          session = await service.register({ token: minted.token, name: options.name, scope: options.scope, pid: run.pid, cwd });
        } catch (e) {
          if (!(e instanceof UnavailableError) || options.requireDaemon) {
            shut("");
            await run.exited;
            throw e;
          }
          warn(`${e.message}; running the command with an unregistered session token`);
          service = undefined;
        }
      }
      shut("\n");
      options.onStart?.({ pid: run.pid, tokenFile: minted.file, dir: minted.dir, session });
      return { ...(await run.exited), session };
    } finally {
      shut("");
    }
  } finally {
    if (session && service) {
      try {
        await service.revoke(session.id);
      } catch (e) {
        warn(`Could not revoke session ${session.id}: ${e instanceof Error ? e.message : String(e)}; the reaper will drop it`);
      }
    }
    service?.close?.();
    if (minted) removeSessionDir(minted.dir);
  }
}

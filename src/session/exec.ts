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
import { closeSync, writeSync } from "node:fs";
import { constants } from "node:os";
import { UnavailableError } from "../errors.ts";
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
    const child = Bun.spawn(["/bin/sh", "-c", GATE, options.command[0]!, ...options.command], {
      env: childEnv(env, minted.file),
      cwd,
      stdio: ["inherit", options.stdout ?? "inherit", "inherit", "socket-fd"],
    });
    const gate = child.stdio[3] as number;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      try {
        writeSync(gate, "\n");
      } finally {
        closeSync(gate);
      }
    };

    // Forward signals from the moment the child exists; a signal before release ends the gate shell.
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
    try {
      if (service) {
        try {
          session = await service.register({ token: minted.token, name: options.name, scope: options.scope, pid: child.pid, cwd });
        } catch (e) {
          if (!(e instanceof UnavailableError) || options.requireDaemon) {
            // Nothing has run yet: closing the gate without a line makes the shell exit 125.
            closeSync(gate);
            released = true;
            await child.exited;
            throw e;
          }
          warn(`${e.message}; running the command with an unregistered session token`);
          service = undefined;
        }
      }
      release();
      options.onStart?.({ pid: child.pid, tokenFile: minted.file, dir: minted.dir, session });
      const status = await child.exited;
      const sig = child.signalCode;
      if (sig === null || sig === undefined) return { code: status, session };
      const signal = typeof sig === "number" ? String(sig) : sig;
      return { code: typeof sig === "number" ? 128 + sig : signalExitCode(sig), signal, session };
    } finally {
      for (const [sig, listener] of forwarders) signals.off(sig, listener);
      if (!released) closeSync(gate);
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

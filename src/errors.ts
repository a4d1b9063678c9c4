/**
 * Every failure tokenctl reports on purpose is one of these classes. Each carries the exit code the
 * README documents and, where there is one, a hint: the one command that fixes it. Messages say what
 * was expected and what was found, and never contain a secret (STYLE habit 10).
 */

/** Exit codes, the same for every command. */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  authRefused: 4,
  unavailable: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The `kind` of a failure in `--json`'s error object, one per error class below: "failed" (exit 1,
 * a reported failure), "usage" and "untrusted" (2), "not_found" (3), "refused" (4),
 * "unavailable" (5); "unexpected" (1) is anything that is not a TokenctlError (a bug).
 */
export type ErrorKind = "unexpected" | "failed" | "usage" | "untrusted" | "not_found" | "refused" | "unavailable";

export interface ErrorOptions {
  cause?: unknown;
  /** The one command that fixes it. */
  hint?: string;
  /** What the command could still learn before failing; printed as `result` under --json. */
  result?: unknown;
}

export class TokenctlError extends Error {
  readonly exitCode: ExitCode = ExitCode.unexpected;
  readonly kind: ErrorKind = "failed";
  readonly hint?: string;
  /** A partial result (a status report with one side unreachable); main.ts prints it under --json. */
  result?: unknown;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TokenctlError";
    this.hint = options?.hint;
    if (options?.result !== undefined) this.result = options.result;
  }
}

/** Bad flags, a bad flag combination, or input that cannot be used (exit 2). */
export class UsageError extends TokenctlError {
  override readonly exitCode = ExitCode.usage;
  override readonly kind = "usage";
  override name = "UsageError";
}

/** A secret file that exists but is not safe to trust: too-open mode, foreign owner, symlink (exit 2). */
export class InsecureFileError extends TokenctlError {
  override readonly exitCode = ExitCode.usage;
  override readonly kind = "untrusted";
  override name = "InsecureFileError";
}

/** Nothing to return: no token, no session, no credential (exit 3). */
export class NotFoundError extends TokenctlError {
  override readonly exitCode = ExitCode.notFound;
  override readonly kind = "not_found";
  override name = "NotFoundError";
}

/** A server or the daemon refused our credentials (exit 4). */
export class AuthRefusedError extends TokenctlError {
  override readonly exitCode = ExitCode.authRefused;
  override readonly kind = "refused";
  override name = "AuthRefusedError";
}

/** A needed service did not answer: daemon, Vault, OAuth server (exit 5). */
export class UnavailableError extends TokenctlError {
  override readonly exitCode = ExitCode.unavailable;
  override readonly kind = "unavailable";
  override name = "UnavailableError";
}

/**
 * An error of the class that `kind` names, for failures that crossed a process boundary as data
 * (the refresh helper's answer): the caller then reports the same exit code and `--json` kind.
 */
export function errorOfKind(kind: string, message: string, options?: ErrorOptions): TokenctlError {
  switch (kind) {
    case "usage":
      return new UsageError(message, options);
    case "untrusted":
      return new InsecureFileError(message, options);
    case "not_found":
      return new NotFoundError(message, options);
    case "refused":
      return new AuthRefusedError(message, options);
    case "unavailable":
      return new UnavailableError(message, options);
    default:
      return new TokenctlError(message, options);
  }
}

/**
 * Not a failure to report: the command ran and ends with this exit status (a child's 128+n, a
 * doctor with failed checks, status with nothing logged in). Commands throw it instead of setting
 * process.exitCode; run() in main.ts turns it into the exit code and prints nothing.
 */
export class ExitStatus extends Error {
  constructor(readonly code: number) {
    super(`exit status ${code}`);
    this.name = "ExitStatus";
  }
}

/** The node:fs error code of `e`, if it has one. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

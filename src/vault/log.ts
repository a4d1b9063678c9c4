/**
 * The sync log: `<ISO time> OK|WARN|FAIL|SKIP|RECOVERED <message>` lines appended to
 * <state-dir>/sync.log and sent to syslog through logger(1) when it is installed.
 *
 * Messages are built from fixed texts, paths, versions and dates only. As a second line of
 * defence every secret the run has seen is registered here and masked before a line is written.
 */
import { spawn } from "node:child_process";
import { accessSync, closeSync, constants, fstatSync, openSync, readSync, renameSync, statSync, writeSync } from "node:fs";
import { delimiter, join } from "node:path";

export type Level = "OK" | "WARN" | "FAIL" | "SKIP" | "RECOVERED";
export const LEVELS: readonly Level[] = ["OK", "WARN", "FAIL", "SKIP", "RECOVERED"];

export interface SyncLog {
  write(level: Level, message: string): Promise<void>;
  /** Mask this value wherever it would appear in a line. */
  addSecret(value: string | undefined): void;
}

/** One log line (no trailing newline). */
export function formatLine(now: number, level: Level, message: string): string {
  return `${new Date(now).toISOString()} ${level} ${message.replace(/[\r\n]+/g, " ")}`;
}

/** Replace each secret (at least 4 characters long) in `text` with [redacted]. */
export function mask(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]");
  return out;
}

/** The first executable file called `name` in PATH, as the shell would find it; null when there is none. */
export function findOnPath(name: string, path: string = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here, or not executable: try the next directory.
    }
  }
  return null;
}

/** Send a line to syslog with logger(1); the message goes on stdin, not argv, so `ps` never shows it. */
export async function syslogViaLogger(level: Level, line: string, loggerPath: string | null = findOnPath("logger")): Promise<void> {
  if (!loggerPath) return;
  const priority = level === "FAIL" ? "user.err" : level === "WARN" ? "user.warning" : "user.info";
  // syslog is a copy; the file log is the record, so a missing or broken logger is not a failure.
  await new Promise<void>((resolve) => {
    try {
      const proc = spawn(loggerPath, ["-t", "tokenctl-vault-sync", "-p", priority], { stdio: ["pipe", "ignore", "ignore"] });
      proc.on("error", () => resolve());
      proc.on("close", () => resolve());
      proc.stdin.on("error", () => {});
      proc.stdin.end(`${line}\n`);
    } catch {
      resolve();
    }
  });
}

export interface FileLogOptions {
  file: string;
  now?: () => number;
  syslog?: ((level: Level, line: string) => Promise<void>) | false;
  /** Also hand each line here (--verbose echoes to stderr). */
  echo?: (line: string) => void;
}

/** Append lines to the log file (created 0600) and to syslog. */
export function fileLog(options: FileLogOptions): SyncLog & { lines: string[] } {
  const now = options.now ?? Date.now;
  const syslog = options.syslog === false ? undefined : (options.syslog ?? syslogViaLogger);
  const secrets = new Set<string>();
  const lines: string[] = [];
  return {
    lines,
    addSecret(value) {
      if (value) secrets.add(value);
    },
    async write(level, message) {
      const line = mask(formatLine(now(), level, message), secrets);
      lines.push(line);
      appendLine(options.file, line);
      options.echo?.(line);
      // Syslog gets the message without our timestamp: it stamps its own.
      await syslog?.(level, line.slice(line.indexOf(" ") + 1));
    },
  };
}

/** Past this size sync.log is moved to sync.log.1 (one old generation kept): a 15-minute timer must not grow it forever. */
export const MAX_LOG_BYTES = 1024 * 1024;

function appendLine(file: string, line: string): void {
  try {
    if (statSync(file).size > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // No log yet: the open below creates it.
  }
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, `${line}\n`);
  } finally {
    closeSync(fd);
  }
}

/** The last line of the log that carries a level, parsed; undefined when there is none. */
export function lastResult(text: string): { time: string; level: Level; message: string } | undefined {
  const lines = text.split("\n").filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^(\S+) (OK|WARN|FAIL|SKIP|RECOVERED) (.*)$/.exec(lines[i]!);
    if (m) return { time: m[1]!, level: m[2] as Level, message: m[3]! };
  }
  return undefined;
}


/** The last `maxBytes` of a file as text ("" when it does not exist); the log holds no secrets. */
export function readTail(file: string, maxBytes = 64 * 1024): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return "";
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, start + off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * The local files sync touches, all through src/fs/secure.ts: the credentials file (merged at one
 * key, every other key kept — other tools keep their credentials there) and the env file that
 * hands the setup token to agents.
 */
import { join } from "node:path";
import { NotFoundError, UsageError } from "../errors.ts";
import { readSecretFile, removeSecretFile, writeSecretFile } from "../fs/secure.ts";
import { localStateOf, type LocalState } from "./plan.ts";
import type { OAuthCredential } from "./record.ts";

/** What sync reads and writes locally; tests pass their own or use real temp files. */
export interface SyncFiles {
  /** The credentials file's state at `key` (never throws for a missing or non-JSON file). */
  readLocal(): LocalState;
  /**
   * Put `credential` at `key`, keeping every other key. The file it replaces is first copied to
   * <state-dir>/credentials.before-restore.json, so a restore never loses a credential.
   */
  restore(credential: OAuthCredential): void;
  readEnv(): string | undefined;
  writeEnv(content: string): void;
  removeEnv(): void;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Read the credentials file: undefined when absent; its text and parsed object otherwise. */
function readCredentialsFile(path: string): { text: string; parsed: Record<string, unknown> | undefined } | undefined {
  let text: string;
  try {
    text = readSecretFile(path, { raw: true });
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return { text, parsed: isObject(parsed) ? parsed : undefined };
  } catch {
    return { text, parsed: undefined };
  }
}

/** Merge `credential` into the JSON object text at `key`; every other key kept. Pure. */
export function mergeCredentials(existing: Record<string, unknown> | undefined, key: string, credential: OAuthCredential): string {
  return `${JSON.stringify({ ...(existing ?? {}), [key]: credential })}\n`;
}

/** Where a restore keeps the credentials file it replaced. */
export const beforeRestorePath = (stateDir: string): string => join(stateDir, "credentials.before-restore.json");

/** The real files: `credentials` merged at `key`, `envFile` for the setup token, the pre-restore copy in `stateDir`. */
export function realFiles(paths: { credentials: string; key: string; envFile: string; stateDir: string }): SyncFiles {
  const { credentials, key, envFile } = paths;
  return {
    readLocal() {
      const file = readCredentialsFile(credentials);
      if (!file) return { file: "absent", entry: undefined };
      if (!file.parsed) return { file: "unparseable", entry: undefined };
      return localStateOf("present", file.parsed, key);
    },
    restore(credential) {
      const file = readCredentialsFile(credentials);
      if (file && !file.parsed)
        throw new UsageError(`${credentials} is not a JSON object; not restoring into it, which would lose its other keys`, {
          hint: `Fix or move it aside: mv ${credentials} ${credentials}.broken`,
        });
      if (file) writeSecretFile(beforeRestorePath(paths.stateDir), file.text);
      writeSecretFile(credentials, mergeCredentials(file?.parsed, key, credential));
    },
    readEnv() {
      try {
        return readSecretFile(envFile, { raw: true });
      } catch (e) {
        if (e instanceof NotFoundError) return undefined;
        // Exists but unsafe (too open, foreign owner): report it as different so it is replaced
        // by a fresh 0600 file, or removed.
        if (e instanceof Error && e.name === "InsecureFileError") return "";
        throw e;
      }
    },
    writeEnv(content) {
      writeSecretFile(envFile, content);
    },
    removeEnv() {
      removeSecretFile(envFile);
    },
  };
}

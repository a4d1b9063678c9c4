/**
 * Where the session registry persists: the registry file (src/fs/secure.ts writes it atomically
 * 0600 in a private dir), claimed by one daemon at a time with a lock beside it.
 */
import { renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { NotFoundError, errnoCode } from "../errors.ts";
import { type Env, stateDir } from "../fs/paths.ts";
import { type FileLock, tryLock } from "../fs/lock.ts";
import { ensurePrivateDir, readSecretFile, writeSecretFile } from "../fs/secure.ts";
import type { RegistrySnapshot } from "./registry.ts";

/** Default registry file: $XDG_STATE_HOME/tokenctl/sessions.json. */
export function defaultRegistryFile(env: Env = process.env): string {
  return join(stateDir(env), "sessions.json");
}

/** Largest registry file we read: 100,000 sessions take about 30 MB. */
const MAX_REGISTRY_BYTES = 256 * 1024 * 1024;

/** Where the registry persists: a small interface so tests can pass their own. */
export interface RegistryStore {
  /** Where it is, for messages. */
  readonly where?: string;
  /**
   * Become the only writer; false when another daemon already is (two daemons on different
   * sockets sharing one state dir must not overwrite each other's sessions).
   */
  claim?(): boolean;
  /** Give up being the writer. */
  release?(): void;
  /** The saved snapshot, or undefined when nothing was saved yet. */
  load(): unknown;
  save(snapshot: RegistrySnapshot): void;
}

/**
 * The registry file, written atomically 0600 in a private dir through src/fs/secure.ts. A file that
 * is not JSON is moved aside (never overwritten) and reported by `onCorrupt`.
 */
export function fileRegistryStore(path: string, onCorrupt: (message: string) => void = () => {}): RegistryStore {
  let held: FileLock | undefined;
  return {
    where: path,
    claim() {
      ensurePrivateDir(dirname(path));
      held ??= tryLock(`${path}.lock`);
      return held !== undefined;
    },
    release() {
      held?.release();
      held = undefined;
    },
    load() {
      let text: string;
      try {
        text = readSecretFile(path, { maxBytes: MAX_REGISTRY_BYTES });
      } catch (e) {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      }
      try {
        return JSON.parse(text);
      } catch {
        const aside = `${path}.corrupt-${Date.now()}`;
        try {
          renameSync(path, aside);
          onCorrupt(`${path} is not valid JSON; moved it to ${aside} and started with no sessions`);
        } catch (e) {
          onCorrupt(`${path} is not valid JSON and could not be moved aside (${errnoCode(e)}); starting with no sessions`);
        }
        return undefined;
      }
    },
    save(snapshot) {
      writeSecretFile(path, JSON.stringify(snapshot));
    },
  };
}

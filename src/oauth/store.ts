/**
 * Where OAuth records live. Three kinds, one interface:
 * - `keychain`: the OS credential store through src/runtime/keychain.ts (one item per profile);
 * - `file`: $XDG_CONFIG_HOME/tokenctl/credentials.json, an object keyed by profile;
 * - `file:PATH#KEY`: the object at KEY in a JSON file other programs share (every other key kept
 *   byte for byte), or `file:PATH` for a file that is the record itself.
 * Each store names the lock file that serialises its refreshes (see refresh.ts).
 */
import { keychain } from "../runtime/keychain.ts";
import { join } from "node:path";
import { NotFoundError, UnavailableError, UsageError } from "../errors.ts";
import { configDir, expandHome, stateDir, type Env } from "../fs/paths.ts";
import { readSecretFile, writeSecretFile } from "../fs/secure.ts";
import { deleteMember, setMember } from "./json-object.ts";
import { loginHint } from "./errors.ts";
import { CredentialFormatError, parseRecord, parseRecordText, recordToJson, type OAuthRecord } from "./record.ts";

export interface CredentialStore {
  readonly kind: "file" | "keychain";
  /** Where the record lives, for messages and status (never a value). */
  readonly description: string;
  /** The flock(2) file that serialises refreshes of this record. */
  readonly lockPath: string;
  /** The stored record, or undefined when there is none. */
  read(): Promise<OAuthRecord | undefined>;
  /** Replace the record (atomically; other data in the same file untouched). */
  write(record: OAuthRecord): Promise<void>;
  /** Delete the record; false when there was none. */
  remove(): Promise<boolean>;
}

export type StoreSpec = { type: "keychain" } | { type: "file"; path?: string; key?: string };

/** Parse `keychain`, `file`, `file:PATH` or `file:PATH#KEY`. */
export function parseStoreSpec(spec: string): StoreSpec {
  if (spec === "keychain") return { type: "keychain" };
  if (spec === "file") return { type: "file" };
  if (spec.startsWith("file:")) {
    const rest = spec.slice(5);
    const hash = rest.lastIndexOf("#");
    const path = hash === -1 ? rest : rest.slice(0, hash);
    const key = hash === -1 ? undefined : rest.slice(hash + 1);
    if (!path) throw new UsageError(`Store "${spec}" has no path: expected file:PATH or file:PATH#KEY`);
    if (key === "") throw new UsageError(`Store "${spec}" has an empty key after '#': expected file:PATH#KEY`);
    return { type: "file", path, key };
  }
  throw new UsageError(`Unknown store "${spec}": expected keychain, file, file:PATH or file:PATH#KEY`, {
    hint: "e.g. --store file:~/.claude/.credentials.json#claudeAiOauth",
  });
}

/** A JSON file store: the whole file (no key) or the object at `key`; `profile` is named in login hints. */
export function fileStore(path: string, key: string | undefined, profile: string): CredentialStore {
  const where = key === undefined ? path : `${path}#${key}`;
  const readText = (): string | undefined => {
    try {
      return readSecretFile(path, { raw: true });
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  };
  const parseObject = (text: string): Record<string, unknown> => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new CredentialFormatError(`${path} is not valid JSON; tokenctl will not overwrite it`, {
        hint: `Fix or move the file, then log in again: ${loginHint(profile)}`,
      });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new CredentialFormatError(`${path} holds JSON that is not an object; tokenctl will not overwrite it`);
    return value as Record<string, unknown>;
  };
  return {
    kind: "file",
    description: `file ${where}`,
    lockPath: `${path}.lock`,
    async read() {
      const text = readText();
      if (text === undefined) return undefined;
      if (key === undefined) return text.trim() === "" ? undefined : parseRecordText(text, where, profile);
      const obj = parseObject(text);
      return obj[key] === undefined ? undefined : parseRecord(obj[key], where, profile);
    },
    async write(record) {
      const text = readText();
      if (key === undefined) {
        // Keep fields other programs added to the record itself.
        const old = text === undefined || text.trim() === "" ? {} : parseObject(text);
        writeSecretFile(path, `${JSON.stringify({ ...old, ...recordToJson(record) }, null, 2)}\n`);
        return;
      }
      const base = text === undefined || text.trim() === "" ? "{}\n" : text;
      const obj = parseObject(base);
      const old = obj[key];
      const merged = { ...(typeof old === "object" && old !== null && !Array.isArray(old) ? old : {}), ...recordToJson(record) };
      if (!record.refreshToken) delete (merged as Record<string, unknown>).refreshToken;
      writeSecretFile(path, setMember(base, key, merged));
    },
    async remove() {
      const text = readText();
      if (text === undefined) return false;
      if (key === undefined) {
        const { removeSecretFile } = await import("../fs/secure.ts");
        removeSecretFile(path);
        return true;
      }
      const obj = parseObject(text);
      if (!(key in obj)) return false;
      writeSecretFile(path, deleteMember(text, key));
      return true;
    },
  };
}

/** The part of the keychain API we use; injectable so tests can make it fail or hang. */
export interface SecretsApi {
  get(o: { service: string; name: string }): Promise<string | null>;
  set(o: { service: string; name: string; value: string }): Promise<void>;
  delete(o: { service: string; name: string }): Promise<boolean>;
}

/** The keychain did not answer or is not there (exit 5). */
export class KeychainUnavailableError extends UnavailableError {
  override name = "KeychainUnavailableError";
}

/** gh waits 3 s for the keyring; a locked Secret Service would otherwise hang on an unlock prompt. */
export const KEYCHAIN_TIMEOUT_MS = 3000;
export const KEYCHAIN_SERVICE = "tokenctl";

/** Run one keychain call with a deadline; errors become KeychainUnavailableError. */
async function withTimeout<T>(what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KeychainUnavailableError(`The OS keychain did not answer ${what} within ${timeoutMs} ms (locked, or waiting for an unlock prompt?)`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      call().catch((e: unknown) => {
        throw new KeychainUnavailableError(`The OS keychain failed ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A keychain store: item (service "tokenctl", name "oauth:<profile>") holding the record's JSON. */
export function keychainStore(profile: string, options: { env?: Env; secrets?: SecretsApi; timeoutMs?: number } = {}): CredentialStore {
  const secrets = options.secrets ?? keychain();
  const timeoutMs = options.timeoutMs ?? KEYCHAIN_TIMEOUT_MS;
  const id = { service: KEYCHAIN_SERVICE, name: `oauth:${profile}` };
  const where = `keychain item ${id.service}/${id.name}`;
  const lockDir = stateDir(options.env);
  return {
    kind: "keychain",
    description: where,
    lockPath: join(lockDir, `${profile}.lock`),
    async read() {
      const text = await withTimeout("a read", timeoutMs, () => secrets.get(id));
      return text === null || text === "" ? undefined : parseRecordText(text, where, profile);
    },
    async write(record) {
      const value = JSON.stringify(recordToJson(record));
      await withTimeout("a write", timeoutMs, () => secrets.set({ ...id, value }));
    },
    async remove() {
      return await withTimeout("a delete", timeoutMs, () => secrets.delete(id));
    },
  };
}

/** Check the keychain answers (a read of a probe item); the failure explains why it does not. */
export async function probeKeychain(secrets: SecretsApi = keychain(), timeoutMs = KEYCHAIN_TIMEOUT_MS): Promise<KeychainUnavailableError | undefined> {
  try {
    await withTimeout("a probe", timeoutMs, () => secrets.get({ service: KEYCHAIN_SERVICE, name: "probe" }));
    return undefined;
  } catch (e) {
    if (e instanceof KeychainUnavailableError) return e;
    throw e;
  }
}

export interface OpenedStore {
  store: CredentialStore;
  /** Set when `keychain` was asked for but the file store is used instead: say so once. */
  fallback?: { reason: string };
  /** Why the file store serves a `keychain` profile, for status and doctor rows. */
  note?: "keychain fallback" | "keychain unavailable";
}

export interface OpenStoreOptions {
  spec: StoreSpec;
  profile: string;
  env?: Env;
  secrets?: SecretsApi;
  keychainTimeoutMs?: number;
  /**
   * For writing a new login: use the keychain whenever it answers. Otherwise a record already in
   * the default file (put there by an earlier fallback) keeps being used without probing the
   * keychain, so a hanging keyring costs its timeout once, at login, not on every call.
   */
  preferKeychain?: boolean;
  /** Whether the keychain answers; default: probe it (doctor passes the answer of its own probe). */
  probe?: () => Promise<KeychainUnavailableError | undefined>;
}

/** The default file store: $XDG_CONFIG_HOME/tokenctl/credentials.json keyed by profile. */
export function defaultFileStore(profile: string, env?: Env): CredentialStore {
  return fileStore(join(configDir(env), "credentials.json"), profile, profile);
}

/**
 * The store a profile's record really sits in, for every command, the daemon and doctor alike.
 * `keychain` is served by the default file while that holds a record (an earlier fallback) or
 * when the keychain does not answer; a keychain login supersedes the file record.
 */
export async function chooseStore(o: OpenStoreOptions): Promise<OpenedStore> {
  if (o.spec.type === "file") {
    if (o.spec.path === undefined) return { store: defaultFileStore(o.profile, o.env) };
    return { store: fileStore(expandHome(o.spec.path, o.env), o.spec.key, o.profile) };
  }
  const file = defaultFileStore(o.profile, o.env);
  if (!o.preferKeychain && (await file.read())) return { store: file, note: "keychain fallback" };
  // One keychain for the probe and the store (outside Bun, building one looks up its tool on PATH).
  const secrets = o.secrets ?? keychain();
  const failure = await (o.probe ?? (() => probeKeychain(secrets, o.keychainTimeoutMs)))();
  if (failure) return { store: file, fallback: { reason: failure.message }, note: "keychain unavailable" };
  return { store: keychainStore(o.profile, { env: o.env, secrets, timeoutMs: o.keychainTimeoutMs }) };
}

/**
 * The daemon's session registry: who each session token stands for.
 *
 * Sessions are keyed by SHA-256 of the token; the raw token is hashed on the way in and never kept,
 * returned or persisted. Resolving is one hash plus one Map lookup, so it costs the same with
 * 100,000 sessions as with 10. Listing by scope uses a per-scope index.
 */
import { randomBytes } from "node:crypto";
import { renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { NotFoundError, UsageError, errnoCode } from "../errors.ts";
import { type Env, stateDir } from "../fs/paths.ts";
import { type FileLock, tryLock } from "../fs/lock.ts";
import { ensurePrivateDir, readSecretFile, writeSecretFile } from "../fs/secure.ts";
import { hashToken, isSessionToken } from "./token.ts";

/** Scope given to sessions registered without one. */
export const DEFAULT_SCOPE = "default";

/** What the daemon knows about a session, and all it ever returns: no token, no hash. */
export interface SessionRecord {
  id: string;
  name: string;
  scope: string;
  pid: number;
  cwd: string;
  /** ISO 8601 time of registration. */
  createdAt: string;
}

export interface RegisterInput {
  token: unknown;
  name?: unknown;
  scope?: unknown;
  pid?: unknown;
  cwd?: unknown;
}

const SCOPE_RE = /^[A-Za-z0-9._:@/-]{1,128}$/;
const MAX_NAME = 256;
const MAX_CWD = 4096;

/** Validate a scope name; returns it or throws UsageError. */
export function checkScope(scope: unknown): string {
  if (typeof scope !== "string" || !SCOPE_RE.test(scope))
    throw new UsageError(
      `Expected a scope of 1-128 characters from A-Z a-z 0-9 . _ : @ / -, found ${typeof scope === "string" ? JSON.stringify(scope.slice(0, 40)) : typeof scope}`,
    );
  return scope;
}

function checkName(name: unknown): string {
  if (name === undefined || name === null) return "";
  if (typeof name !== "string" || name.length > MAX_NAME || /[\x00-\x1f\x7f]/.test(name))
    throw new UsageError(`Expected a session name of at most ${MAX_NAME} printable characters`);
  return name;
}

function checkPid(pid: unknown): number {
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid < 1 || pid > 2 ** 31 - 1)
    throw new UsageError(`Expected pid to be a positive integer, found ${JSON.stringify(pid) ?? typeof pid}`);
  return pid;
}

function checkCwd(cwd: unknown): string {
  if (cwd === undefined || cwd === null) return "";
  if (typeof cwd !== "string" || cwd.length > MAX_CWD || cwd.includes("\0")) throw new UsageError(`Expected cwd to be a path string`);
  return cwd;
}

/** Persisted form: hashes and records only. */
export interface RegistrySnapshot {
  version: 1;
  sessions: { hash: string; record: SessionRecord }[];
}

export interface RegistryOptions {
  now?: () => number;
  newId?: () => string;
}

/** In-memory registry; see the module comment. */
export class SessionRegistry {
  private readonly byHash = new Map<string, SessionRecord>();
  private readonly hashById = new Map<string, string>();
  private readonly idsByScope = new Map<string, Set<string>>();
  private readonly now: () => number;
  private readonly newId: () => string;
  /** Bumped on every change; persistence compares it to know when to save. */
  generation = 0;

  constructor(options: RegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? (() => randomBytes(8).toString("hex"));
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Register a token; throws UsageError on invalid input or a token already registered. */
  register(input: RegisterInput): SessionRecord {
    if (!isSessionToken(input.token)) throw new UsageError("Expected token to be 64 lower-case hex characters");
    const hash = hashToken(input.token);
    if (this.byHash.has(hash)) throw new UsageError("This session token is already registered; mint a new one");
    const record: SessionRecord = {
      id: this.uniqueId(),
      name: checkName(input.name),
      scope: input.scope === undefined || input.scope === null ? DEFAULT_SCOPE : checkScope(input.scope),
      pid: checkPid(input.pid),
      cwd: checkCwd(input.cwd),
      createdAt: new Date(this.now()).toISOString(),
    };
    this.insert(hash, record);
    return { ...record };
  }

  /** The session a raw token stands for, or undefined. Invalid input is simply not a session. */
  resolve(token: unknown): SessionRecord | undefined {
    if (!isSessionToken(token)) return undefined;
    const record = this.byHash.get(hashToken(token));
    return record && { ...record };
  }

  /** The session with this id, or undefined. */
  get(id: string): SessionRecord | undefined {
    const hash = this.hashById.get(id);
    const record = hash === undefined ? undefined : this.byHash.get(hash);
    return record && { ...record };
  }

  /** Sessions in `scope`, or every session when scope is undefined; oldest first. */
  list(scope?: string): SessionRecord[] {
    const ids = scope === undefined ? [...this.hashById.keys()] : [...(this.idsByScope.get(scope) ?? [])];
    return ids.map((id) => this.get(id)!).sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  /** Remove a session by id; returns its record. Throws NotFoundError when unknown. */
  revoke(id: unknown): SessionRecord {
    const hash = typeof id === "string" ? this.hashById.get(id) : undefined;
    const record = hash === undefined ? undefined : this.byHash.get(hash);
    if (hash === undefined || !record) throw new NotFoundError(`No session with id ${typeof id === "string" ? JSON.stringify(id.slice(0, 64)) : String(id)}`);
    this.remove(hash, record);
    return { ...record };
  }

  /** Drop every session whose pid is not alive; returns the dropped records. */
  reap(isAlive: (pid: number) => boolean = pidAlive): SessionRecord[] {
    const dead: SessionRecord[] = [];
    const aliveCache = new Map<number, boolean>();
    for (const [hash, record] of this.byHash) {
      let alive = aliveCache.get(record.pid);
      if (alive === undefined) aliveCache.set(record.pid, (alive = isAlive(record.pid)));
      if (!alive) dead.push(record);
    }
    for (const record of dead) this.remove(this.hashById.get(record.id)!, record);
    return dead.map((r) => ({ ...r }));
  }

  /** Session counts, total and per scope. */
  counts(): { total: number; byScope: Record<string, number> } {
    // fromEntries defines own properties: assigning byScope["__proto__"] (a valid scope) would
    // hit the prototype setter and drop the count.
    const byScope: Record<string, number> = Object.fromEntries([...this.idsByScope].map(([scope, ids]) => [scope, ids.size]));
    return { total: this.byHash.size, byScope };
  }

  snapshot(): RegistrySnapshot {
    return { version: 1, sessions: [...this.byHash].map(([hash, record]) => ({ hash, record })) };
  }

  /**
   * Add the valid entries of a snapshot (a restarted daemon's memory); returns how many entries
   * were skipped as malformed.
   */
  restore(snapshot: unknown): { loaded: number; skipped: number } {
    if (typeof snapshot !== "object" || snapshot === null || (snapshot as { version?: unknown }).version !== 1 || !Array.isArray((snapshot as { sessions?: unknown }).sessions))
      throw new UsageError("Expected a session registry snapshot with version 1 and a sessions array");
    let loaded = 0;
    let skipped = 0;
    for (const entry of (snapshot as RegistrySnapshot).sessions as unknown[]) {
      const record = validSnapshotEntry(entry);
      if (!record || this.byHash.has(record.hash) || this.hashById.has(record.record.id)) {
        skipped++;
        continue;
      }
      this.insert(record.hash, record.record);
      loaded++;
    }
    return { loaded, skipped };
  }

  private uniqueId(): string {
    for (;;) {
      const id = this.newId();
      if (!this.hashById.has(id)) return id;
    }
  }

  private insert(hash: string, record: SessionRecord): void {
    this.byHash.set(hash, record);
    this.hashById.set(record.id, hash);
    let ids = this.idsByScope.get(record.scope);
    if (!ids) this.idsByScope.set(record.scope, (ids = new Set()));
    ids.add(record.id);
    this.generation++;
  }

  private remove(hash: string, record: SessionRecord): void {
    this.byHash.delete(hash);
    this.hashById.delete(record.id);
    const ids = this.idsByScope.get(record.scope);
    ids?.delete(record.id);
    if (ids?.size === 0) this.idsByScope.delete(record.scope);
    this.generation++;
  }
}

function validSnapshotEntry(entry: unknown): { hash: string; record: SessionRecord } | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const { hash, record } = entry as { hash?: unknown; record?: unknown };
  if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash) || typeof record !== "object" || record === null) return undefined;
  const r = record as Record<string, unknown>;
  try {
    if (typeof r.id !== "string" || !/^[0-9a-zA-Z_-]{1,64}$/.test(r.id) || typeof r.createdAt !== "string") return undefined;
    return {
      hash,
      record: { id: r.id, name: checkName(r.name), scope: checkScope(r.scope), pid: checkPid(r.pid), cwd: checkCwd(r.cwd), createdAt: r.createdAt },
    };
  } catch {
    // A malformed entry is skipped (and counted) rather than failing the whole load.
    return undefined;
  }
}

/**
 * Whether a process exists: signal 0 checks without sending anything. ESRCH means gone; EPERM means
 * it exists but belongs to another user (alive: a pid reused by root's process is not ours to judge
 * dead, and dropping a live session is worse than keeping a dead one one more round).
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true;
    return true;
  }
}

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

/**
 * The daemon's session registry: who each session token stands for.
 *
 * Sessions are keyed by SHA-256 of the token; the raw token is hashed on the way in and never kept,
 * returned or persisted. Resolving is one hash plus one Map lookup, so it costs the same with
 * 100,000 sessions as with 10. Listing by scope uses a per-scope index.
 */
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { NotFoundError, UsageError } from "../errors.ts";
import { DEFAULT_SCOPE, MAX_CHILDREN, MAX_SESSIONS, SessionCode, SessionWireError, sessionError, type SessionRecord } from "./protocol.ts";
import { hashToken, isSessionToken } from "./token.ts";

export { DEFAULT_SCOPE, type SessionRecord } from "./protocol.ts";

export interface RegisterInput {
  token: unknown;
  name?: unknown;
  scope?: unknown;
  pid?: unknown;
  cwd?: unknown;
  /** The id of the session that registers this one (a session-authenticated connection), if any. */
  parent?: string;
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

export function checkPid(pid: unknown): number {
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid < 1 || pid > 2 ** 31 - 1)
    throw new UsageError(`Expected pid to be a positive integer, found ${JSON.stringify(pid) ?? typeof pid}`);
  return pid;
}

function checkCwd(cwd: unknown): string {
  if (cwd === undefined || cwd === null) return "";
  if (typeof cwd !== "string" || cwd.length > MAX_CWD || cwd.includes("\0")) throw new UsageError(`Expected cwd to be a path string`);
  return cwd;
}

/** Persisted form: hashes and records only (and which session registered each, for the child limit). */
export interface RegistrySnapshot {
  version: 1;
  sessions: { hash: string; record: SessionRecord; parent?: string }[];
}

export interface RegistryOptions {
  now?: () => number;
  newId?: () => string;
  /** Sessions the registry holds at most (default 100,000). */
  maxSessions?: number;
  /** Live sessions one session may have registered at most (default 64). */
  maxChildren?: number;
}

/** In-memory registry; see the module comment. */
export class SessionRegistry {
  private readonly byHash = new Map<string, SessionRecord>();
  private readonly hashById = new Map<string, string>();
  private readonly idsByScope = new Map<string, Set<string>>();
  /** Live sessions each session registered, and the reverse link. */
  private readonly childrenOf = new Map<string, Set<string>>();
  private readonly parentOf = new Map<string, string>();
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly maxSessions: number;
  private readonly maxChildren: number;
  /** Bumped on every change; persistence compares it to know when to save. */
  generation = 0;

  constructor(options: RegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? (() => randomBytes(8).toString("hex"));
    this.maxSessions = options.maxSessions ?? MAX_SESSIONS;
    this.maxChildren = options.maxChildren ?? MAX_CHILDREN;
  }

  /** Live sessions that `id` registered. */
  childCount(id: string): number {
    return this.childrenOf.get(id)?.size ?? 0;
  }

  get size(): number {
    return this.byHash.size;
  }

  /**
   * Register a token; throws UsageError on invalid input or a token already registered, and
   * AuthRefusedError (code session.limit) when the registry or the parent's children are at their limit.
   */
  register(input: RegisterInput): SessionRecord {
    if (!isSessionToken(input.token)) throw new UsageError("Expected token to be 64 lower-case hex characters");
    const hash = hashToken(input.token);
    if (this.byHash.has(hash)) throw new UsageError("This session token is already registered; mint a new one");
    if (this.byHash.size >= this.maxSessions)
      throw sessionError(SessionCode.limit, SessionWireError.registryFull.replace(MAX_SESSIONS.toLocaleString("en-US"), this.maxSessions.toLocaleString("en-US")), {
        hint: "Revoke sessions that are done: tokenctl session list, then tokenctl session revoke ID",
      });
    if (input.parent !== undefined && this.childCount(input.parent) >= this.maxChildren)
      throw sessionError(SessionCode.limit, SessionWireError.tooManyChildren.replace(String(MAX_CHILDREN), String(this.maxChildren)), {
        hint: "Revoke the sessions this one started that are done, or register with the daemon token",
      });
    const record: SessionRecord = {
      id: this.uniqueId(),
      name: checkName(input.name),
      scope: input.scope === undefined || input.scope === null ? DEFAULT_SCOPE : checkScope(input.scope),
      pid: checkPid(input.pid),
      cwd: checkCwd(input.cwd),
      createdAt: new Date(this.now()).toISOString(),
    };
    this.insert(hash, record, input.parent);
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
  reap(isAlive: (pid: number) => boolean = pidOwned): SessionRecord[] {
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
    return {
      version: 1,
      sessions: [...this.byHash].map(([hash, record]) => {
        const parent = this.parentOf.get(record.id);
        return parent === undefined ? { hash, record } : { hash, record, parent };
      }),
    };
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
      this.insert(record.hash, record.record, record.parent);
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

  private insert(hash: string, record: SessionRecord, parent?: string): void {
    this.byHash.set(hash, record);
    this.hashById.set(record.id, hash);
    if (parent !== undefined) {
      this.parentOf.set(record.id, parent);
      let children = this.childrenOf.get(parent);
      if (!children) this.childrenOf.set(parent, (children = new Set()));
      children.add(record.id);
    }
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
    const parent = this.parentOf.get(record.id);
    if (parent !== undefined) {
      this.parentOf.delete(record.id);
      const siblings = this.childrenOf.get(parent);
      siblings?.delete(record.id);
      if (siblings?.size === 0) this.childrenOf.delete(parent);
    }
    this.childrenOf.delete(record.id);
    this.generation++;
  }
}

function validSnapshotEntry(entry: unknown): { hash: string; record: SessionRecord; parent?: string } | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const { hash, record, parent } = entry as { hash?: unknown; record?: unknown; parent?: unknown };
  if (parent !== undefined && (typeof parent !== "string" || !/^[0-9a-zA-Z_-]{1,64}$/.test(parent))) return undefined;
  if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash) || typeof record !== "object" || record === null) return undefined;
  const r = record as Record<string, unknown>;
  try {
    if (typeof r.id !== "string" || !/^[0-9a-zA-Z_-]{1,64}$/.test(r.id) || typeof r.createdAt !== "string") return undefined;
    return {
      hash,
      record: { id: r.id, name: checkName(r.name), scope: checkScope(r.scope), pid: checkPid(r.pid), cwd: checkCwd(r.cwd), createdAt: r.createdAt },
      ...(parent === undefined ? {} : { parent: parent as string }),
    };
  } catch {
    // A malformed entry is skipped (and counted) rather than failing the whole load.
    return undefined;
  }
}

/**
 * Whether `pid` is a live process of ours, the only kind a session may name (and the only kind the
 * reaper keeps). Signal 0 checks without sending anything: ESRCH means gone, EPERM means it belongs
 * to another user. Where /proc tells the owner (Linux), it must be our uid too: root may signal
 * anyone. pid 1 (init) never counts, as it never ends and no session runs as it.
 */
export function pidOwned(pid: number, uid: number | undefined = process.getuid?.()): boolean {
  if (pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch {
    // EPERM: alive but not ours; ESRCH: gone; anything else: we cannot tell it is ours.
    return false;
  }
  // Without /proc (macOS, BSD) kill(2) succeeding is the check; with it, a pid gone since is not ours.
  procfs ??= existsSync("/proc/self/stat");
  if (uid === undefined || !procfs) return true;
  try {
    return statSync(`/proc/${pid}`).uid === uid;
  } catch {
    return false;
  }
}

let procfs: boolean | undefined;

export { type RegistryStore, defaultRegistryFile, fileRegistryStore } from "./store.ts";

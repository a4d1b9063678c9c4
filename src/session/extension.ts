/**
 * Sessions inside the daemon: the `session.*` requests, session authentication, the dead-pid
 * reaper and persistence of the registry. The daemon knows none of this; it only honours the
 * DaemonExtension contract (src/daemon/extension.ts).
 */
import { type ConnectionInfo, type DaemonApi, type DaemonExtension, type Message, realScheduler, type Scheduler } from "../daemon/extension.ts";
import { AuthRefusedError, NotFoundError, TokenctlError, UsageError } from "../errors.ts";
import { SessionCode, SessionWireError, sessionError } from "./protocol.ts";
import {
  DEFAULT_SCOPE,
  type RegistryStore,
  type SessionRecord,
  SessionRegistry,
  checkPid,
  checkScope,
  defaultRegistryFile,
  fileRegistryStore,
  pidOwned,
} from "./registry.ts";
import { isSessionToken } from "./token.ts";


/** Default time between two reaper passes. */
export const DEFAULT_REAP_INTERVAL_MS = 30_000;

export interface SessionExtensionOptions {
  registry?: SessionRegistry;
  /** Where the registry persists; default $XDG_STATE_HOME/tokenctl/sessions.json. null: memory only. */
  store?: RegistryStore | null;
  reapIntervalMs?: number;
  /** Whether a pid is a live process of ours: a registered pid must be, and the reaper keeps only those (default pidOwned). */
  isAlive?: (pid: number) => boolean;
  /** Changes within this many ms are written in one save (0: save after every change). */
  saveDelayMs?: number;
  /** The reaper's and the saves' timers (default setTimeout). */
  scheduler?: Scheduler;
}

/** The session a connection authenticated as, if it did so with a session token. */
function identityOf(conn: ConnectionInfo): SessionRecord | undefined {
  const id = conn.identity;
  return id && typeof id.id === "string" && typeof id.scope === "string" ? (id as unknown as SessionRecord) : undefined;
}

/**
 * The scope a request acts in: a session-authenticated connection acts in its session's scope only
 * (naming another is refused, code session.not_allowed); a daemon-token connection acts in the
 * scope it names, or in every scope (undefined). Other extensions use this too, so scoping means
 * the same everywhere.
 */
export function effectiveScope(message: Message, conn: ConnectionInfo): string | undefined {
  const named = message.scope !== undefined && message.scope !== null ? checkScope(message.scope) : undefined;
  if (conn.admin) return named;
  const own = identityOf(conn)?.scope;
  if (named !== undefined && own !== undefined && named !== own)
    throw sessionError(SessionCode.notAllowed, `${SessionWireError.otherScope} (yours: ${own}, asked: ${named})`);
  return own ?? named;
}

/** Give an error thrown by a handler its wire code, so the client rebuilds its kind. */
function withCode(e: unknown): unknown {
  if (typeof e !== "object" || e === null || "wireCode" in e) return e;
  const code =
    e instanceof UsageError ? SessionCode.invalid : e instanceof NotFoundError ? SessionCode.notFound : e instanceof AuthRefusedError ? SessionCode.notAllowed : undefined;
  if (code) (e as { wireCode?: string }).wireCode = code;
  return e;
}

/**
 * How long to wait before the next save. A save writes the whole registry (about 100 ms at 100,000
 * sessions) and blocks the event loop meanwhile, so under steady churn we wait four times the last
 * save's duration: the daemon spends at most a fifth of its time saving.
 */
export function nextSaveDelay(saveDelayMs: number, lastSaveMs: number): number {
  return Math.max(saveDelayMs, Math.ceil(lastSaveMs * 4));
}

export interface SessionExtension extends DaemonExtension {
  readonly registry: SessionRegistry;
  /** Run one reaper pass now; returns the dropped sessions. */
  reap(): SessionRecord[];
  /** Write the registry now if it changed since the last save. */
  flush(): void;
}

/** Build the session extension; the daemon calls start() and stop(). */
export function createSessionExtension(options: SessionExtensionOptions = {}): SessionExtension {
  const registry = options.registry ?? new SessionRegistry();
  const isAlive = options.isAlive ?? pidOwned;
  const reapIntervalMs = options.reapIntervalMs ?? DEFAULT_REAP_INTERVAL_MS;
  const saveDelayMs = options.saveDelayMs ?? 20;
  let store: RegistryStore | null | undefined = options.store;
  let api: DaemonApi | undefined;
  const scheduler: Scheduler = options.scheduler ?? realScheduler;
  let reapTimer: unknown;
  let saveTimer: unknown;
  let savedGeneration = registry.generation;
  let lastReapAt: string | undefined;
  let lastSaveMs = 0;
  let reapedTotal = 0;

  const publish = (topic: string, data: unknown) => api?.publish(topic, data);

  function flush(): void {
    if (saveTimer !== undefined) scheduler.clear(saveTimer);
    saveTimer = undefined;
    if (!store || registry.generation === savedGeneration) return;
    const generation = registry.generation;
    const started = scheduler.now();
    try {
      store.save(registry.snapshot());
      lastSaveMs = scheduler.now() - started;
      savedGeneration = generation;
    } catch (e) {
      // Keep serving from memory; the next change tries again.
      api?.log.error(`Could not save the session registry: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  function changed(): void {
    if (!store) return;
    if (saveDelayMs <= 0) return flush();
    saveTimer ??= scheduler.set(flush, nextSaveDelay(saveDelayMs, lastSaveMs));
  }

  function reap(): SessionRecord[] {
    const dead = registry.reap(isAlive);
    lastReapAt = new Date().toISOString();
    reapedTotal += dead.length;
    for (const session of dead) publish("session.ended", { session, reason: "reaped" });
    if (dead.length) {
      api?.log.info(`Reaper dropped ${dead.length} session(s) whose process is gone`);
      changed();
    }
    return dead;
  }

  function requireCaller(conn: ConnectionInfo): SessionRecord | undefined {
    if (conn.admin) return undefined;
    const me = identityOf(conn);
    if (!me) throw sessionError(SessionCode.notAllowed, SessionWireError.needsCredential);
    // The connection outlives nothing: a session revoked or reaped since it authenticated is over.
    if (!registry.get(me.id)) throw sessionError(SessionCode.ended, SessionWireError.sessionEnded);
    return me;
  }

  const handlers: Record<string, (m: Message, c: ConnectionInfo) => Message> = {
    "session.register"(m, conn) {
      const me = requireCaller(conn);
      const scope = effectiveScope(m, conn) ?? me?.scope ?? DEFAULT_SCOPE;
      // A session names its own process (or a child's): never init, never another user's.
      if (!isAlive(checkPid(m.pid)))
        throw sessionError(SessionCode.invalid, `Expected pid to be a live process of this user (not pid 1), found ${m.pid}`);
      const session = registry.register({ token: m.token, name: m.name, scope, pid: m.pid, cwd: m.cwd, parent: me?.id });
      publish("session.registered", { session });
      changed();
      return { session };
    },
    "session.resolve"(m, conn) {
      const me = requireCaller(conn);
      if (m.token === undefined && me) return { session: registry.get(me.id) ?? null };
      if (m.token === undefined) throw new UsageError("session.resolve needs a token (or a session-authenticated connection)");
      return { session: registry.resolve(m.token) ?? null };
    },
    "session.list"(m, conn) {
      requireCaller(conn);
      const scope = effectiveScope(m, conn);
      return { scope: scope ?? null, sessions: registry.list(scope) };
    },
    "session.revoke"(m, conn) {
      const me = requireCaller(conn);
      // `id` is the protocol's request id (echoed in the answer), so the session is named by
      // `sessionId`; a string `id` is accepted too, for raw clients that send no request id.
      const sessionId = typeof m.sessionId === "string" ? m.sessionId : typeof m.id === "string" ? m.id : undefined;
      const target = sessionId === undefined ? undefined : registry.get(sessionId);
      if (!target) return { session: null };
      // A session may end sessions of its own scope (itself included); only the daemon token ends any.
      if (me && target.scope !== me.scope)
        throw sessionError(SessionCode.notAllowed, `${SessionWireError.otherScope} (yours: ${me.scope}, session ${target.id}: ${target.scope})`);
      let session: SessionRecord;
      try {
        session = registry.revoke(target.id);
      } catch (e) {
        if (e instanceof NotFoundError) return { session: null };
        throw e;
      }
      publish("session.ended", { session, reason: "revoked" });
      changed();
      return { session };
    },
  };

  const coded: Record<string, (m: Message, c: ConnectionInfo) => Message> = {};
  for (const [type, handler] of Object.entries(handlers))
    coded[type] = (m, c) => {
      try {
        return handler(m, c);
      } catch (e) {
        throw withCode(e);
      }
    };

  return {
    name: "session",
    registry,
    reap,
    flush,
    handlers: coded,
    authenticate(message) {
      if (!isSessionToken(message.session)) return undefined;
      return registry.resolve(message.session) as Message | undefined;
    },
    status() {
      const { total, byScope } = registry.counts();
      return { sessions: total, byScope, reapIntervalMs, lastReapAt: lastReapAt ?? null, reaped: reapedTotal, persisted: Boolean(store) };
    },
    start(daemonApi) {
      api = daemonApi;
      if (store === undefined) store = fileRegistryStore(defaultRegistryFile(), (msg) => api?.log.warn(msg));
      if (store?.claim && !store.claim()) {
        api.log.warn(`Another daemon keeps its sessions in ${store.where ?? "the registry file"}; this one keeps its sessions in memory only`);
        store = null;
      }
      if (store) {
        const snapshot = store.load();
        if (snapshot !== undefined) {
          try {
            const { loaded, skipped } = registry.restore(snapshot);
            api.log.info(`Loaded ${loaded} session(s) from the registry file${skipped ? `, skipped ${skipped} malformed` : ""}`);
          } catch (e) {
            api.log.warn(`Ignoring the saved session registry: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
        savedGeneration = registry.generation;
      }
      reap();
      const every = () => {
        reapTimer = scheduler.set(() => {
          reap();
          every();
        }, reapIntervalMs);
        // The reaper alone never keeps the process alive (the listener does).
        (reapTimer as { unref?: () => void }).unref?.();
      };
      every();
    },
    stop() {
      if (reapTimer !== undefined) scheduler.clear(reapTimer);
      reapTimer = undefined;
      flush();
      store?.release?.();
      api = undefined;
    },
  };
}

/**
 * What the daemon does with a message: the handshake's verdict (the daemon token through
 * checkAuth, other credentials through the extensions), the built-in messages, and the routes to
 * extension handlers. No socket here: connections arrive as Connection objects.
 */
import pkg from "../../package.json" with { type: "json" };
import { TokenctlError } from "../errors.ts";
import { checkAuth } from "./auth.ts";
import type { AuthOutcome, Connection } from "./connection.ts";
import type { DaemonApi, DaemonExtension, Handler, Message } from "./extension.ts";
import { WireError, encode, errorFrame, parsePublish, parseTopics, reply, wireCodeOf } from "./protocol.ts";

export type DaemonLogger = DaemonApi["log"];

export interface DaemonStats {
  open: number;
  authenticated: number;
  /** Connections that have not authenticated yet (their pool is --max-connections' inner limit). */
  unauthenticated: number;
  subscribers: number;
  max: number;
}

const BUILTIN = new Set(["auth", "ping", "status", "subscribe", "unsubscribe", "publish"]);

/** Map message types to extension handlers; throws when two claim one type or one claims a built-in. */
export function routeTable(extensions: DaemonExtension[]): Map<string, { ext: DaemonExtension; handler: Handler }> {
  const routes = new Map<string, { ext: DaemonExtension; handler: Handler }>();
  for (const ext of extensions) {
    for (const [type, handler] of Object.entries(ext.handlers ?? {})) {
      if (BUILTIN.has(type)) throw new TokenctlError(`Extension ${ext.name} registers "${type}", a built-in message type`);
      const prior = routes.get(type);
      if (prior) throw new TokenctlError(`Extensions ${prior.ext.name} and ${ext.name} both register "${type}"`);
      routes.set(type, { ext, handler });
    }
  }
  return routes;
}

export interface DispatcherOptions {
  extensions: DaemonExtension[];
  /** SHA-256 of the daemon token (auth.ts tokenDigest). */
  digest: Buffer;
  log: DaemonLogger;
  stats(): Omit<DaemonStats, "subscribers">;
  startedAt: number;
  now?: () => number;
}

export interface Dispatcher {
  authenticate(message: Message): AuthOutcome | Promise<AuthOutcome>;
  dispatch(conn: Connection, message: Message): void;
  /** Send an event to every authenticated subscriber of topic; returns how many got it. */
  publish(topic: string, data: unknown): number;
  /** Forget a closed connection. */
  forget(conn: Connection): void;
  readonly subscribers: number;
}

const acceptedToken: AuthOutcome = Object.freeze({ ok: true, admin: true, result: Object.freeze({ type: "auth_result", ok: true }) });
const refusedToken: AuthOutcome & { ok: false } = { ok: false, frame: { type: "auth_result", ok: false, error: WireError.invalidToken }, why: "authentication refused (wrong token)" };

export function createDispatcher(o: DispatcherOptions): Dispatcher {
  const routes = routeTable(o.extensions);
  const authenticators = o.extensions.filter((e) => typeof e.authenticate === "function");
  const subscribers = new Set<Connection>();
  const now = o.now ?? Date.now;

  async function extensionAuth(message: Message): Promise<AuthOutcome> {
    for (const ext of authenticators) {
      try {
        const identity = await ext.authenticate!(message);
        if (identity) return { ok: true, admin: false, identity, result: { type: "auth_result", ok: true, [ext.name]: identity } };
      } catch (e) {
        o.log.error(`Extension ${ext.name} failed to judge an auth message: ${(e as Error).message}`);
      }
    }
    return { ...refusedToken, why: "authentication refused (no token, and no extension accepted the credential)" };
  }

  function authenticate(message: Message): AuthOutcome | Promise<AuthOutcome> {
    const verdict = checkAuth(message, o.digest);
    if (verdict.kind === "not-auth")
      return { ok: false, frame: errorFrame(WireError.authRequired), why: `closed, first message was ${JSON.stringify(String(message.type).slice(0, 64))}, not auth` };
    if (verdict.kind === "token") return verdict.ok ? acceptedToken : refusedToken;
    return extensionAuth(message);
  }

  function publish(topic: string, data: unknown): number {
    let frame: Buffer | undefined;
    let delivered = 0;
    for (const c of subscribers) {
      if (c.state !== "open" || !c.topics || (c.topics !== "all" && !c.topics.has(topic))) continue;
      frame ??= Buffer.from(encode({ type: "event", topic, data }));
      c.send(frame, "event");
      delivered++;
    }
    return delivered;
  }

  function status(): Message {
    const body: Message = {
      type: "status",
      pid: process.pid,
      version: pkg.version,
      uptime: Math.round((now() - o.startedAt) / 1000),
      connections: { ...o.stats(), subscribers: subscribers.size },
    };
    for (const ext of o.extensions) {
      if (!ext.status) continue;
      try {
        body[ext.name] = ext.status();
      } catch (e) {
        body[ext.name] = { error: (e as Error).message };
      }
    }
    return body;
  }

  function builtin(c: Connection, m: Message): Message | undefined {
    switch (m.type) {
      case "ping":
        return reply(m, { type: "pong" });
      case "status":
        return c.info.admin ? reply(m, status()) : errorFrame(WireError.adminRequired, m);
      case "subscribe": {
        const t = parseTopics(m.topics);
        if (!t.ok) return errorFrame(t.error, m);
        if (!t.topics) c.topics = "all";
        else if (c.topics !== "all") c.topics = new Set([...(c.topics ?? []), ...t.topics]);
        subscribers.add(c);
        return reply(m, { type: "subscribed", topics: c.topics === "all" ? "*" : [...c.topics] });
      }
      case "unsubscribe":
        c.topics = undefined;
        subscribers.delete(c);
        return reply(m, { type: "unsubscribed" });
      case "publish": {
        if (!c.info.admin) return errorFrame(WireError.adminRequired, m);
        const p = parsePublish(m);
        if (!p.ok) return errorFrame(p.error, m);
        return reply(m, { type: "published", delivered: publish(p.topic, p.data) });
      }
      case "auth":
        return errorFrame(WireError.alreadyAuthenticated, m);
    }
    return undefined;
  }

  function dispatch(c: Connection, m: Message): void {
    const answer = builtin(c, m);
    if (answer) return c.send(encode(answer));
    const type = m.type as string;
    const route = routes.get(type);
    if (!route) return c.send(encode(errorFrame(WireError.unknownType(type.slice(0, 200)), m)));
    Promise.resolve()
      .then(() => route.handler(m, c.info))
      .then(
        (body) => c.send(encode(reply(m, { type: `${type}.result`, ...body }))),
        (e: unknown) => c.send(encode(errorFrame(e instanceof Error ? e.message : String(e), m, wireCodeOf(e)))),
      );
  }

  return {
    authenticate,
    dispatch,
    publish,
    forget: (c) => void subscribers.delete(c),
    get subscribers() {
      return subscribers.size;
    },
  };
}

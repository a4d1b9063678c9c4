/** `tokenctl oauth token|status|logout` (login: oauth-login.ts): thin wrappers over src/oauth. */
import { defineCommand, type ArgsDef } from "citty";
import { commonArgs, daemonClientArgs, ENV, helpMeta } from "./_shared.ts";
import { printJson, printResult } from "./print.ts";

/** The stderr logger, loaded only when there is something to say (`oauth token` is a fast path). */
const log = async () => (await import("./output.ts")).log();
import { resolveProfile, type Profile } from "../oauth/config.ts";
import { parseDuration } from "../duration.ts";

/** The variables every oauth command reads. */
export const OAUTH_ENV = [
  ENV.config,
  "XDG_STATE_HOME — base of the keychain store's lock files (default ~/.local/state)",
  "DBUS_SESSION_BUS_ADDRESS — the Secret Service (keychain) on Linux; without it the file store is used",
];

/** Profile flags every oauth command (and `exec --oauth`) takes. */
export const profileArgs = {
  issuer: { type: "string", valueHint: "url", description: "Authorization server (OpenID/OAuth discovery; default: the profile's); http:// only for 127.0.0.1, ::1, localhost" },
  "client-id": { type: "string", valueHint: "id", description: "OAuth client id, a public client: PKCE, no secret (default: the profile's)" },
  "token-endpoint": { type: "string", valueHint: "url", description: "Token endpoint, when there is no discovery (default: the profile's, else discovery's)" },
  scope: { type: "string", valueHint: "scopes", description: "Space-separated scopes to request at login (default: the profile's, else none)" },
  store: {
    type: "string",
    valueHint: "spec",
    description: "keychain (default; falls back to file), file, file:PATH or file:PATH#KEY",
  },
  timeout: { type: "string", valueHint: "duration", description: "Time allowed for the server, with retries (default 30s; login: 5m)" },
} as const satisfies ArgsDef;

export const oauthArgs = {
  profile: { type: "string", valueHint: "name", description: "Profile in config.json (default: default)" },
  ...profileArgs,
} as const satisfies ArgsDef;

type ProfileArgValues = { profile?: string; issuer?: string; "client-id"?: string; "token-endpoint"?: string; scope?: string; store?: string };

/** The profile the flags name, validated before any side effect. */
export function profileFrom(args: ProfileArgValues): Profile {
  return resolveProfile({
    profile: args.profile,
    issuer: args.issuer,
    clientId: args["client-id"],
    tokenEndpoint: args["token-endpoint"],
    scope: args.scope,
    store: args.store,
  });
}

/** Say once, on stderr, that the keychain did not work and the file store is used. */
export async function warnFallback(fallback: { reason: string } | undefined, path: string): Promise<void> {
  if (fallback) (await log()).warn(`${fallback.reason}. Using the file store ${path} (0600) instead.`);
}

/** Flags that redefine the profile make it one the daemon (which knows config.json names) does not know. */
function redefines(args: ProfileArgValues): boolean {
  return Boolean(args.issuer || args["client-id"] || args["token-endpoint"] || args.scope !== undefined || args.store);
}

/** `oauth token` and `exec --oauth`: the token, with the fallback and expiry warnings on stderr. */
export async function obtainToken(
  args: ProfileArgValues & { socket?: string; "token-file"?: string },
  profile: Profile,
  minValidMs: number | undefined,
  timeoutMs: number,
): Promise<{ accessToken: string; expiresAt: number; scopes: string[]; source: string }> {
  const redefined = redefines(args);
  const { obtainToken: obtain } = await import("../oauth/token.ts");
  const { selfCommand } = await import("../runtime/platform.ts");
  const command = selfCommand();
  const got = await obtain({
    profile,
    minValidMs,
    timeoutMs,
    daemon: redefined ? false : { socket: args.socket, tokenFile: args["token-file"] },
    // No daemon: the refresh runs in a detached helper, so killing this process never loses the grant.
    ...(command ? { detached: { command } } : {}),
  });
  if (got.store) await warnFallback(got.fallback, got.store.description);
  if (got.warning) (await log()).warn(got.warning);
  return { accessToken: got.accessToken, expiresAt: got.expiresAt, scopes: got.scopes, source: got.source };
}

export const token = defineCommand({
  meta: helpMeta({
    name: "token",
    description: "Print a valid access token, refreshing it first when it expires within --min-valid",
    env: [...OAUTH_ENV, ENV.socket, ENV.daemonToken, ENV.runtime],
    examples: [`ACCESS_TOKEN=$(tokenctl oauth token --profile work) || exit; export ACCESS_TOKEN`, "tokenctl oauth token --min-valid 30m --json"],
  }),
  args: {
    ...oauthArgs,
    "min-valid": { type: "string", valueHint: "duration", description: "Refresh when the token expires within this (default: 5m, or half the token's lifetime when shorter)" },
    ...daemonClientArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const profile = profileFrom(args);
    const minValidMs = args["min-valid"] === undefined ? undefined : parseDuration(args["min-valid"], "--min-valid");
    const timeoutMs = parseDuration(args.timeout ?? "30s", "--timeout");
    const got = await obtainToken(args, profile, minValidMs, timeoutMs);
    if (args.json) printJson({ accessToken: got.accessToken, expiresAt: new Date(got.expiresAt).toISOString(), scopes: got.scopes, source: got.source });
    else printResult(got.accessToken);
  },
});

const status = defineCommand({
  meta: helpMeta({
    name: "status",
    description: "Show the store, expiry, scopes and whether a refresh is possible (never a token)",
    env: OAUTH_ENV,
    examples: ["tokenctl oauth status --profile work", "tokenctl oauth status --json | jq .expiresIn"],
  }),
  args: { ...oauthArgs, ...commonArgs },
  async run({ args }) {
    const profile = profileFrom(args);
    const { chooseStore } = await import("../oauth/store.ts");
    const { store, fallback } = await chooseStore({ spec: profile.storeSpec, profile: profile.name });
    await warnFallback(fallback, store.description);
    const record = await store.read();
    const now = Date.now();
    const info = {
      profile: profile.name,
      store: store.description,
      loggedIn: Boolean(record),
      ...(record
        ? {
            expiresAt: new Date(record.expiresAt).toISOString(),
            expiresIn: Math.round((record.expiresAt - now) / 1000),
            expired: record.expiresAt <= now,
            scopes: record.scopes,
            refreshable: Boolean(record.refreshToken),
          }
        : {}),
    };
    if (args.json) printJson(info);
    else if (!record) printResult(`profile ${info.profile}: not logged in (${info.store})`);
    else
      printResult(
        [
          `profile:     ${info.profile}`,
          `store:       ${info.store}`,
          `expires:     ${info.expiresAt} (${info.expired ? `expired ${-info.expiresIn!} s ago` : `in ${info.expiresIn} s`})`,
          `scopes:      ${record.scopes.join(" ") || "(none)"}`,
          `refreshable: ${info.refreshable ? "yes" : "no (log in again when it expires)"}`,
        ].join("\n"),
      );
    if (!record) throw new (await import("../errors.ts")).ExitStatus(3);
  },
});

const logout = defineCommand({
  meta: helpMeta({
    name: "logout",
    description: "Revoke the credential at the server (when it has a revocation endpoint), delete it, and tell a running daemon to forget it",
    env: [...OAUTH_ENV, ENV.socket, ENV.daemonToken, ENV.runtime],
    examples: ["tokenctl oauth logout --profile work"],
  }),
  args: { ...oauthArgs, ...daemonClientArgs, ...commonArgs },
  async run({ args }) {
    const profile = profileFrom(args);
    const timeoutMs = parseDuration(args.timeout ?? "30s", "--timeout");
    const { logout: runLogout } = await import("../oauth/logout.ts");
    // The daemon knows profiles by their config.json name only: flags that redefine one are not its.
    const r = await runLogout({ profile, timeoutMs, daemon: redefines(args) ? false : { socket: args.socket, tokenFile: args["token-file"] } });
    if (r.revokeError) (await log()).warn(`Could not revoke at the server (${r.revokeError}); the token stays valid there until it expires`);
    if (args.json) printJson({ profile: profile.name, store: r.store, revoked: r.revoked, deleted: true, daemonForgot: r.daemonForgot });
    else (await log()).success(`Logged out (profile ${profile.name}): ${r.revoked ? "revoked at the server and " : ""}deleted from ${r.store}${r.daemonForgot ? "; the daemon forgot it" : ""}`);
  },
});

export default defineCommand({
  meta: helpMeta({
    name: "oauth",
    description: "OAuth credentials: log in, hand out fresh access tokens, refresh without races",
    env: OAUTH_ENV,
    examples: ["tokenctl oauth login --profile work", "tokenctl oauth token --profile work"],
  }),
  // login lives in its own file: it is big (browser, device flow, profile writing) and token must not load it.
  subCommands: { login: () => import("./oauth-login.ts").then((m) => m.default), token, status, logout },
});

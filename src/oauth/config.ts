/**
 * OAuth profiles: non-secret settings from $XDG_CONFIG_HOME/tokenctl/config.json under
 * `oauth.profiles.<name>`, overridden by flags so a script needs no config file at all.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UsageError, errnoCode } from "../errors.ts";
import { configDir, type Env } from "../fs/paths.ts";
import { parseStoreSpec, type StoreSpec } from "./store.ts";

export interface ProfileSettings {
  issuer?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  revocationEndpoint?: string;
  /** RFC 8628 device authorization endpoint, for servers without discovery (GitHub). */
  deviceAuthorizationEndpoint?: string;
  clientId?: string;
  scopes?: string[];
  store?: string;
  /** Extra parameters for the authorization request (Google: `access_type: offline`). */
  authorizationParams?: Record<string, string>;
  /** The `prompt` to send, overriding `consent` (sent when the scopes hold offline_access). */
  prompt?: string;
}

export interface Profile extends ProfileSettings {
  name: string;
  scopes: string[];
  store: string;
  storeSpec: StoreSpec;
}

/** The flags every oauth command takes. */
export interface ProfileFlags {
  profile?: string;
  issuer?: string;
  clientId?: string;
  tokenEndpoint?: string;
  scope?: string;
  store?: string;
}

export const DEFAULT_PROFILE = "default";
export const DEFAULT_STORE = "keychain";

const FIELDS = [
  "issuer",
  "authorizationEndpoint",
  "tokenEndpoint",
  "revocationEndpoint",
  "deviceAuthorizationEndpoint",
  "clientId",
  "scopes",
  "store",
  "authorizationParams",
  "prompt",
] as const;
const URL_FIELDS = ["issuer", "authorizationEndpoint", "tokenEndpoint", "revocationEndpoint", "deviceAuthorizationEndpoint"] as const;

/** Path of the config file. */
export function configPath(env?: Env): string {
  return join(configDir(env), "config.json");
}

/** Read and validate the profiles in config.json; a missing file means no profiles. */
export function readProfiles(path: string): Record<string, ProfileSettings> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return {};
    throw new UsageError(`Could not read ${path} (${errnoCode(e) ?? "unknown error"})`, { cause: e });
  }
  return parseProfiles(text, path);
}

/** Validate config.json text; errors name the profile, field, expectation and finding. */
export function parseProfiles(text: string, path: string): Record<string, ProfileSettings> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON (${(e as Error).message})`);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObj(doc)) throw new UsageError(`${path}: expected a JSON object at the top level`);
  if (doc.oauth === undefined) return {};
  if (!isObj(doc.oauth)) throw new UsageError(`${path}: expected "oauth" to be an object`);
  const profiles = doc.oauth.profiles;
  if (profiles === undefined) return {};
  if (!isObj(profiles)) throw new UsageError(`${path}: expected "oauth.profiles" to be an object of profiles by name`);
  // No prototype: a profile named "__proto__" (a valid name) must be stored, not set the prototype.
  const out: Record<string, ProfileSettings> = Object.create(null);
  for (const [name, raw] of Object.entries(profiles)) {
    const at = `${path}: oauth.profiles.${name}`;
    if (!isObj(raw)) throw new UsageError(`${at}: expected an object`);
    const p: ProfileSettings = {};
    for (const [k, v] of Object.entries(raw)) {
      if (!(FIELDS as readonly string[]).includes(k))
        throw new UsageError(`${at}: unknown field "${k}"; expected one of ${FIELDS.join(", ")}`);
      if (k === "scopes") {
        if (typeof v === "string") p.scopes = splitScope(v);
        else if (Array.isArray(v) && v.every((s) => typeof s === "string")) p.scopes = v as string[];
        else throw new UsageError(`${at}.scopes: expected an array of strings or a space-separated string`);
      } else if (k === "authorizationParams") {
        if (!isObj(v) || !Object.values(v).every((s) => typeof s === "string"))
          throw new UsageError(`${at}.authorizationParams: expected an object of strings, e.g. {"access_type": "offline"}`);
        // No prototype, so a parameter named "__proto__" is a parameter.
        p.authorizationParams = Object.assign(Object.create(null), v) as Record<string, string>;
      } else {
        if (typeof v !== "string" || v === "") throw new UsageError(`${at}.${k}: expected a non-empty string`);
        (p as Record<string, string>)[k] = v;
      }
    }
    if (p.store) {
      try {
        parseStoreSpec(p.store);
      } catch (e) {
        // Say which file and profile hold the bad store, as every other check here does.
        if (e instanceof UsageError) throw new UsageError(`${at}.store: ${e.message}`, { cause: e, hint: e.hint });
        throw e;
      }
    }
    for (const k of URL_FIELDS) if (p[k]) checkUrl(p[k]!, `${at}.${k}`);
    out[name] = p;
  }
  return out;
}

/** The profile fields a login takes by flag, and so remembers in config.json. */
export type RememberedFields = Pick<ProfileSettings, "issuer" | "clientId" | "tokenEndpoint" | "scopes" | "store">;

/**
 * Write `fields` into profile `name` in config.json (created 0600 in a 0700 dir when missing),
 * atomically and under `config.json.lock`. Every other profile, field and top-level member keeps
 * its value. Returns the fields that changed; when none did, nothing is written.
 */
export async function saveProfile(path: string, name: string, fields: RememberedFields, lockTimeoutMs = 10_000): Promise<string[]> {
  // Loaded here: the commands that only read profiles (oauth token) must not pay for them.
  const [{ lock }, { ensurePrivateDir, writeSecretFile }, { setMember }] = await Promise.all([
    import("../fs/lock.ts"),
    import("../fs/secure.ts"),
    import("./json-object.ts"),
  ]);
  ensurePrivateDir(dirname(path));
  const held = await lock(`${path}.lock`, lockTimeoutMs);
  try {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw new UsageError(`Could not read ${path} (${errnoCode(e) ?? "unknown error"})`, { cause: e });
      text = "{}\n";
    }
    const profiles = parseProfiles(text, path); // never rewrite a file we cannot read
    const current: ProfileSettings = (Object.hasOwn(profiles, name) ? profiles[name] : undefined) ?? {};
    const changed = (Object.keys(fields) as (keyof RememberedFields)[]).filter(
      (k) => fields[k] !== undefined && JSON.stringify(fields[k]) !== JSON.stringify(current[k]),
    );
    if (changed.length === 0) return [];
    const doc = JSON.parse(text) as Record<string, unknown>;
    const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    const oauth = isObj(doc.oauth) ? doc.oauth : {};
    const all = isObj(oauth.profiles) ? oauth.profiles : {};
    const mine = Object.hasOwn(all, name) && isObj(all[name]) ? all[name] : {};
    const update = Object.fromEntries(changed.map((k) => [k, fields[k]]));
    // Computed keys define own properties, so a profile named "__proto__" stays a profile.
    const next = { ...oauth, profiles: { ...all, [name]: { ...mine, ...update } } };
    writeSecretFile(path, setMember(text, "oauth", next));
    return changed;
  } finally {
    held.release();
  }
}

const splitScope = (s: string) => s.split(/\s+/).filter(Boolean);

/** The profile a command uses: config.json's entry (if any) with the flags on top. */
export function resolveProfile(flags: ProfileFlags, env: Env = process.env, read: (path: string) => Record<string, ProfileSettings> = readProfiles): Profile {
  const name = flags.profile || DEFAULT_PROFILE;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError(`Profile name "${name}" is not valid: expected letters, digits, '.', '_' or '-'`);
  // A missing config file is fine: a script can pass every setting by flag.
  // Own entries only: "constructor" or "__proto__" must not find Object.prototype's members.
  const profiles = read(configPath(env));
  const base: ProfileSettings = (Object.hasOwn(profiles, name) ? profiles[name] : undefined) ?? {};
  const p: ProfileSettings = {
    ...base,
    ...(flags.issuer ? { issuer: flags.issuer } : {}),
    ...(flags.clientId ? { clientId: flags.clientId } : {}),
    ...(flags.tokenEndpoint ? { tokenEndpoint: flags.tokenEndpoint } : {}),
    ...(flags.scope !== undefined ? { scopes: splitScope(flags.scope) } : {}),
    ...(flags.store ? { store: flags.store } : {}),
  };
  for (const k of ["issuer", "tokenEndpoint"] as const) if (p[k]) checkUrl(p[k]!, k === "issuer" ? "--issuer" : "--token-endpoint");
  const store = p.store ?? DEFAULT_STORE;
  return { ...p, name, scopes: p.scopes ?? [], store, storeSpec: parseStoreSpec(store) };
}

const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** True for http(s) URLs on 127.0.0.1, ::1 or localhost: the only hosts allowed plain http. */
export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname);
}

/** A URL for messages and hints: any user:password in it removed (habit 10); other text as it is. */
export function shownUrl(value: string | URL): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return String(value);
  }
  if (!url.username && !url.password) return String(value);
  url.username = url.password = "";
  return url.href;
}

/** Parse an endpoint/issuer URL: https, or http on a loopback host only. */
export function checkUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${what}: expected an absolute https:// URL, found "${value}"`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopback(url)) return url;
  if (url.protocol === "http:")
    throw new UsageError(`${what}: plain http:// is only allowed for loopback hosts (127.0.0.1, ::1, localhost), found ${url.host}`, {
      hint: `Use https://${url.host}${url.pathname}`,
    });
  throw new UsageError(`${what}: expected an https:// URL, found ${url.protocol}`);
}

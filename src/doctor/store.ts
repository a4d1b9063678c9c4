/** Doctor's store rows: the OS keychain probe, and each OAuth profile's record read where chooseStore would read it. */
import { loginHint } from "../oauth/errors.ts";
import { keychain } from "../runtime/keychain.ts";
import { expandHome, type Env } from "../fs/paths.ts";
import { shownUrl, type Profile } from "../oauth/config.ts";
import type { OAuthRecord } from "../oauth/record.ts";
import type { CredentialStore, SecretsApi } from "../oauth/store.ts";
import { formatDuration, guarded, type DoctorDeps } from "./deps.ts";
import type { Check } from "./paths.ts";

/** Why the keychain failed, in words a user can act on, with the command that fixes it. Pure. */
export function keychainReason(message: string, env: Env, platform: NodeJS.Platform): { reason: string; fix?: string } {
  if (/did not answer .* within/.test(message))
    return {
      reason: "the keyring did not answer in time: locked, or waiting for an unlock prompt",
      fix: "gnome-keyring-daemon --unlock --components=secrets   # type the keyring password, then Ctrl-D",
    };
  if (/libsecret/i.test(message)) return { reason: "libsecret is not installed", fix: "sudo apt-get install libsecret-1-0 gnome-keyring" };
  if (platform === "linux" && !env.DBUS_SESSION_BUS_ADDRESS)
    return {
      reason: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset: headless, SSH or CI session)",
      fix: "dbus-run-session -- $SHELL   # then: gnome-keyring-daemon --unlock --components=secrets",
    };
  if (/org\.freedesktop\.secrets|ServiceUnknown|not provided by any/i.test(message))
    return { reason: "no Secret Service on the session bus", fix: "gnome-keyring-daemon --start --components=secrets" };
  if (/D-Bus|dbus|Could not connect/i.test(message))
    return { reason: `the D-Bus session bus does not answer (${message.replace(/^The OS keychain failed a probe: /, "")})`, fix: "dbus-run-session -- $SHELL" };
  return { reason: message.replace(/^The OS keychain failed a probe: /, "") };
}

/** Is the OS keychain usable, and if not, why. A warning, not a failure: tokenctl falls back to a file. */
export async function checkKeychain(deps: Pick<DoctorDeps, "probeKeychain" | "env" | "platform">): Promise<{ check: Check; usable: boolean }> {
  const failure = await deps.probeKeychain();
  if (!failure) return { check: { name: "keychain", status: "ok", detail: `the OS keychain answers (${keychain().backend})` }, usable: true };
  const { reason, fix } = keychainReason(failure.message, deps.env, deps.platform);
  return {
    check: { name: "keychain", status: "warn", detail: `unavailable: ${reason}; OAuth logins fall back to the file store`, ...(fix ? { fix } : {}) },
    usable: false,
  };
}

/** Why a refresh is impossible for this profile and record, or undefined when it is possible. Pure. */
export function refreshBlocker(profile: Profile, record: OAuthRecord): string | undefined {
  if (!record.refreshToken) return "no refresh token stored";
  if (!profile.clientId) return "the profile has no clientId";
  if (!profile.tokenEndpoint && !profile.issuer) return "the profile has neither tokenEndpoint nor issuer";
  return undefined;
}

/**
 * Judge one profile's stored record: expiry and whether a refresh can happen. A dry check: the
 * endpoint is not contacted. `implicit`: the default profile, checked though config.json lacks it.
 */
export function evaluateRecord(profile: Profile, where: string, record: OAuthRecord | undefined, now: number, implicit = false): Check {
  const name = `oauth ${profile.name}`;
  const login = loginHint(profile.name);
  if (!record)
    return implicit
      ? { name, status: "skip", detail: `not logged in (${where})` }
      : { name, status: "warn", detail: `not logged in (${where})`, fix: login };
  const left = record.expiresAt - now;
  const blocker = refreshBlocker(profile, record);
  const endpoint = profile.tokenEndpoint ? `token endpoint ${shownUrl(profile.tokenEndpoint)}` : `token endpoint by discovery from ${shownUrl(profile.issuer ?? "")}`;
  const configFix = `add "clientId" and "tokenEndpoint" (or "issuer") to oauth.profiles.${profile.name} in config.json`;
  const fix = blocker && blocker !== "no refresh token stored" ? configFix : login;
  if (left <= 0) {
    if (blocker) return { name, status: "fail", detail: `${where}: expired ${formatDuration(left)} ago and cannot be refreshed (${blocker})`, fix };
    return { name, status: "ok", detail: `${where}: expired ${formatDuration(left)} ago; refreshes on next use (refresh token present, ${endpoint})` };
  }
  if (blocker) return { name, status: "warn", detail: `${where}: valid for ${formatDuration(left)}, then cannot be refreshed (${blocker})`, fix };
  return { name, status: "ok", detail: `${where}: valid for ${formatDuration(left)}; refreshable (refresh token present, ${endpoint})` };
}

/** Read one profile's record (never refreshing) and judge it. */
export async function checkOAuthProfile(profile: Profile, keychainUsable: boolean, deps: Pick<DoctorDeps, "openStore" | "now">, implicit = false): Promise<Check> {
  return guarded(`oauth ${profile.name}`, async () => {
    const { store, note } = await deps.openStore(profile, keychainUsable);
    const record = await store.read();
    return evaluateRecord(profile, `${store.description}${note ? ` (${note})` : ""}`, record, deps.now(), implicit);
  });
}

/**
 * The store a profile's records are read from: chooseStore's choice (the one every command and the
 * daemon make), with the answer of doctor's own keychain probe instead of a second probe.
 */
export async function openForReading(profile: Profile, keychainUsable: boolean, o: { env: Env; secrets?: SecretsApi; keychainTimeoutMs?: number }): Promise<{ store: CredentialStore; note?: string }> {
  const { chooseStore, KeychainUnavailableError } = await import("../oauth/store.ts");
  const { store, note } = await chooseStore({
    spec: profile.storeSpec,
    profile: profile.name,
    env: o.env,
    secrets: o.secrets,
    keychainTimeoutMs: o.keychainTimeoutMs,
    probe: async () => (keychainUsable ? undefined : new KeychainUnavailableError("the keychain did not answer doctor's probe")),
  });
  return { store, ...(note ? { note } : {}) };
}

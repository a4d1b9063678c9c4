/**
 * `oauth logout`: revoke the grant at the server (when it has a revocation endpoint), delete the
 * record under the store's lock, and tell a running daemon to forget the profile, so it never
 * hands out a token of a grant the user ended.
 */
import { NotFoundError } from "../errors.ts";
import type { Profile } from "./config.ts";
import { removeLocked } from "./lock.ts";
import { chooseStore } from "./store.ts";

export interface LogoutResult {
  store: string;
  revoked: boolean;
  /** Why revocation failed (server text already redacted); the record is deleted anyway. */
  revokeError?: string;
  /** A running daemon was told to forget the profile. */
  daemonForgot: boolean;
}

export async function logout(o: { profile: Profile; timeoutMs: number; daemon: { socket?: string; tokenFile?: string } | false }): Promise<LogoutResult> {
  const { store } = await chooseStore({ spec: o.profile.storeSpec, profile: o.profile.name });
  const record = await store.read();
  if (!record) throw new NotFoundError(`No OAuth credential for profile "${o.profile.name}" in ${store.description}; nothing to log out`);
  let revoked = false;
  let revokeError: string | undefined;
  try {
    const { resolveServer, revoke } = await import("./protocol.ts");
    const server = await resolveServer(o.profile, { need: "revoke", signal: AbortSignal.timeout(o.timeoutMs) });
    // Revoking the refresh token ends the grant (RFC 7009 §2.1); the access token goes with it.
    revoked = record.refreshToken
      ? await revoke(server, record.refreshToken, "refresh_token", AbortSignal.timeout(o.timeoutMs))
      : await revoke(server, record.accessToken, "access_token", AbortSignal.timeout(o.timeoutMs));
  } catch (e) {
    revokeError = e instanceof Error ? e.message : String(e);
  }
  await removeLocked(store, o.timeoutMs);
  let daemonForgot = false;
  if (o.daemon) {
    const { forgetInDaemon } = await import("./daemon-client.ts");
    daemonForgot = await forgetInDaemon({ profile: o.profile.name, ...o.daemon });
  }
  return { store: store.description, revoked, ...(revokeError ? { revokeError } : {}), daemonForgot };
}

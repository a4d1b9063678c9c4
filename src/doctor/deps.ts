/** What doctor's checks are given: every side effect (`DoctorDeps`), the flags, and small shared helpers. */
import type { Env } from "../fs/paths.ts";
import { TokenctlError } from "../errors.ts";
import type { ConnectOptions } from "../daemon/client.ts";
import type { Message } from "../daemon/extension.ts";
import type { Profile, ProfileSettings } from "../oauth/config.ts";
import type { CredentialStore, KeychainUnavailableError } from "../oauth/store.ts";
import type { TokenInfo } from "../vault/client.ts";
import type { Check, PathStat } from "./paths.ts";

/** The daemon connection doctor needs: one `status` call. */
export interface DoctorDaemonClient {
  call(type: string, body?: Message): Promise<Message>;
  close(): void;
}

/** Every side effect doctor has, injectable; `realDeps()` gives the real ones. */
export interface DoctorDeps {
  env: Env;
  platform: NodeJS.Platform;
  uid: number;
  now(): number;
  /** lstat (and stat through a symlink); undefined when the path does not exist. */
  stat(path: string): PathStat | undefined;
  readdir(path: string): string[];
  /** The OAuth store's keychain probe, with its timeout; the error says why it failed. */
  probeKeychain(): Promise<KeychainUnavailableError | undefined>;
  /** Open a profile's store for reading only (see openForReading). */
  openStore(profile: Profile, keychainUsable: boolean): Promise<{ store: CredentialStore; note?: string }>;
  connectDaemon(o: ConnectOptions): Promise<DoctorDaemonClient>;
  readProfiles(path: string): Record<string, ProfileSettings>;
  /** Vault's lookup-self for a token; the client maps failures to our error classes. */
  vaultLookupSelf(o: { addr: string; token: string; timeoutMs: number }): Promise<TokenInfo>;
  /** Our version, to compare with the daemon's. */
  version: string;
  /**
   * Path trust (src/fs/trust.ts): throws when a directory from `dir` up to `/` is not ours or
   * root's, or is writable by others. Default: the real check on the nearest existing ancestor.
   */
  checkDirTrust?(dir: string, what: string): void;
}

/** Doctor's flags: where the daemon and Vault are, as the other commands take them. */
export interface DoctorOptions {
  socket?: string;
  tokenFile?: string;
  vaultAddr?: string;
  vaultTokenFile?: string;
  /** Per daemon/Vault request (default 5000 ms). */
  timeoutMs?: number;
}

/** An error's message, or the thrown value as text. */
export const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A check that threw unexpectedly is a failed row, not a crashed doctor. */
export async function guarded(name: string, run: () => Promise<Check> | Check): Promise<Check> {
  try {
    return await run();
  } catch (e) {
    return { name, status: "fail", detail: messageOf(e), ...(e instanceof TokenctlError && e.hint ? { fix: e.hint } : {}) };
  }
}

/** Human duration: 45s, 12m, 3h 5m, 2d 4h. */
export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

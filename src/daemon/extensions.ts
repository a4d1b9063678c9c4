/**
 * The extensions `tokenctl daemon` runs with. A feature that plugs into the daemon (sessions,
 * OAuth…) adds one lazy import here; loading stays lazy so other commands never pay for it.
 */
import type { DaemonExtension } from "./extension.ts";

/** Daemon-command flags that configure extensions. */
export interface ExtensionOptions {
  /** --reap-interval: time between two passes of the session reaper. */
  reapIntervalMs?: number;
}

/** Every extension the daemon command starts, in the order their authenticate() is tried. */
export async function loadExtensions(options: ExtensionOptions = {}): Promise<DaemonExtension[]> {
  const [{ createSessionExtension }, { oauthExtension }] = await Promise.all([import("../session/extension.ts"), import("../oauth/extension.ts")]);
  return [createSessionExtension({ reapIntervalMs: options.reapIntervalMs }), oauthExtension()];
}

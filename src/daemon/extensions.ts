/**
 * The extensions `tokenctl daemon` runs with. A feature that plugs into the daemon (sessions,
 * OAuth…) adds one lazy import here; loading stays lazy so other commands never pay for it.
 */
import type { DaemonExtension } from "./extension.ts";

/** Every extension the daemon command starts, in the order their authenticate() is tried. */
export async function loadExtensions(): Promise<DaemonExtension[]> {
  return [];
}

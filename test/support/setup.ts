/**
 * Preloaded before every test file (bunfig.toml). Strips the developer's own tokenctl, XDG, Vault
 * and Claude variables so nothing from the real account leaks into a test, and points HOME at a
 * throwaway directory so a test that forgets a temp dir cannot touch real files.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const prefixes = ["TOKENCTL_", "XDG_", "VAULT_", "CLAUDE_", "OAUTH_"];
for (const key of Object.keys(process.env)) {
  if (key === "TOKENCTL_TEST_BIN") continue; // which binary the smoke tests run (test/support/bin.ts)
  if (prefixes.some((p) => key.startsWith(p))) delete process.env[key];
}
process.env.HOME = mkdtempSync(join(tmpdir(), "tokenctl-home-"));
process.env.NO_COLOR = "1";

/**
 * Keep the test output to results. Only these known, harmless lines are dropped; anything else
 * still prints:
 * - oidc-provider's start-up warnings about its development defaults (in-memory adapter, signing
 *   keys, devInteractions) and about not running on Node LTS, and its notice that the default
 *   revocation policy was used: the test provider uses those on purpose, under Bun; and its one-time
 *   "already parsed request body" warning, printed when a request stream is no longer readable when
 *   it gets there (seen under Bun's node:http), after which it reads the parsed body instead;
 * - DEP0115 (crypto.pseudoRandomBytes), called by tsscmp inside oidc-provider's koa stack.
 */
const QUIET_WARNINGS = [
  /^oidc-provider WARNING: Unsupported runtime\./,
  /^oidc-provider WARNING: a quick start development-only /,
  /^oidc-provider WARNING: quick start development-only signing keys /,
  /^oidc-provider NOTICE: default features\.revocation\.allowedPolicy function called/,
  /^oidc-provider WARNING: already parsed request body detected/,
];
const quiet = (args: unknown[]) => typeof args[0] === "string" && QUIET_WARNINGS.some((re) => re.test(args[0] as string));
const { warn, info } = console;
console.warn = (...args: unknown[]) => void (quiet(args) || warn.apply(console, args));
console.info = (...args: unknown[]) => void (quiet(args) || info.apply(console, args));
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const code = typeof rest[0] === "object" && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
  if (code === "DEP0115" || (warning instanceof Error && (warning as Error & { code?: string }).code === "DEP0115")) return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

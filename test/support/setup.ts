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

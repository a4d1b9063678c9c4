#!/usr/bin/env bun
/**
 * Steady-state `tokenctl vault sync` (setup token in Vault unchanged, env file already current):
 * wall time per run and HTTP requests per run, against the Vault API test server, beside the
 * baseline the bash script pays for the same work (curl ×3 + jq + compare, as it did with the
 * vault CLI's HTTP calls). Targets: ≤ 50 ms median, ≤ 3 requests.
 *   bun scripts/bench/vault.ts [runs]   (needs dist/tokenctl: bun scripts/build.ts;
 *   TOKENCTL_BIN=/path/to/tokenctl measures another build, e.g. the previous commit's)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startVaultServer } from "../../test/support/vault-server.ts";

const RUNS = Number(process.argv[2] ?? 30);
const BIN = process.env.TOKENCTL_BIN || join(import.meta.dir, "..", "..", "dist", "tokenctl");
const TOKEN = "hvs.bench-token";
const home = mkdtempSync(join(tmpdir(), "tokenctl-bench-"));
const server = startVaultServer({ tokens: { [TOKEN]: { displayName: "token-bench", policies: ["claude-bench"], paths: ["secret/data/claude/bench"] } } });
server.put("secret", "claude/bench", { setup_token: "sk-ant-oat01-bench-setup-token" });
writeFileSync(join(home, "vault.token"), TOKEN, { mode: 0o600 });
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, XDG_CONFIG_HOME: join(home, "cfg"), XDG_STATE_HOME: join(home, "state") };

const baseline = join(home, "baseline.sh");
writeFileSync(
  baseline,
  `#!/bin/bash
# What the bash script does per steady-state run: lookup-self, renew-self, read, compare.
set -euo pipefail
umask 077
exec 9>"$HOME/baseline.lock"; flock -n 9 || exit 0
H="X-Vault-Token: $(cat "$HOME/vault.token")"
name=$(curl -sSf -H "$H" "$ADDR/v1/auth/token/lookup-self" | jq -r .data.display_name)
[ "$name" = token-bench ] || { echo foreign >&2; exit 4; }
curl -sSf -o /dev/null -X POST -H "$H" "$ADDR/v1/auth/token/renew-self"
tok=$(curl -sSf -H "$H" "$ADDR/v1/secret/data/claude/bench" | jq -r '.data.data.setup_token // empty')
want="CLAUDE_CODE_OAUTH_TOKEN=$tok"
f="$HOME/baseline.env"
[ -f "$f" ] && [ "$(cat "$f")" = "$want" ] || printf '%s\\n' "$want" > "$f"
echo "$(date -Is) OK setup token unchanged" >> "$HOME/baseline.log"
`,
  { mode: 0o700 },
);

async function time(cmd: string[], extraEnv: Record<string, string> = {}): Promise<{ ms: number; requests: number }> {
  const before = server.requests.length;
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { env: { ...env, ...extraEnv }, stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${await new Response(p.stderr).text()}`);
  return { ms, requests: server.requests.length - before };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const ours = [BIN, "vault", "sync", "--addr", server.url, "--token-file", join(home, "vault.token"), "--path", "claude/bench", "--expect-policy", "claude-bench"];
const base = ["/bin/bash", baseline];
// Warm up (and materialize the env file once, so what follows is the steady state).
await time(ours);
await time(base, { ADDR: server.url });

const a: { ms: number; requests: number }[] = [];
const b: { ms: number; requests: number }[] = [];
for (let i = 0; i < RUNS; i++) {
  // Interleaved so both see the same machine load.
  a.push(await time(ours));
  b.push(await time(base, { ADDR: server.url }));
}
server.stop();
rmSync(home, { recursive: true, force: true });

const ma = median(a.map((x) => x.ms));
const mb = median(b.map((x) => x.ms));
const ra = Math.max(...a.map((x) => x.requests));
const rb = Math.max(...b.map((x) => x.requests));
console.log(`vault sync, steady state (setup token unchanged), ${RUNS} runs each`);
console.log(`  tokenctl vault sync    median ${ma.toFixed(1)} ms   requests/run ${ra}   (targets: ≤ 50 ms, ≤ 3)`);
console.log(`  bash + curl + jq       median ${mb.toFixed(1)} ms   requests/run ${rb}`);
console.log(`  ratio tokenctl/baseline ${(ma / mb).toFixed(2)}`);
console.log(`  targets ${ma <= 50 && ra <= 3 ? "met" : "NOT met"}`);

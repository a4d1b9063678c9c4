/** `tokenctl vault sync|backup|restore|status`: thin wrappers over src/vault. */
import { defineCommand, type ArgsDef } from "citty";
import { join } from "node:path";
import { commonArgs, helpMeta } from "./_shared.ts";
import { log, printJson, printResult } from "./output.ts";
import { readVaultToken, resolveVaultConfig, type VaultConfig, type VaultFlags } from "../vault/config.ts";
import { VaultClient } from "../vault/client.ts";
import { realFiles } from "../vault/files.ts";
import { dryRunSync, type SyncPlan } from "../vault/dry-run.ts";
import { fileLog } from "../vault/log.ts";
import { runProbe } from "../vault/probe.ts";
import { runBackup, runRestore, runStatus, runSync, type StatusReport, type SyncDeps, type SyncResult } from "../vault/sync.ts";
import { ensurePrivateDir } from "../fs/secure.ts";

const VAULT_ENV = [
  "VAULT_ADDR — Vault address (as --addr)",
  "VAULT_TOKEN_FILE — file holding the Vault token (as --token-file)",
  "VAULT_TOKEN — the Vault token, when no token file is given (never passed on to --probe)",
  "HOME — base of the default credentials file, ~/.claude/.credentials.json",
  "XDG_CONFIG_HOME — base of the default env file, $XDG_CONFIG_HOME/tokenctl/oauth.env",
  "XDG_STATE_HOME — base of the default state dir (lock, sync.log), $XDG_STATE_HOME/tokenctl/vault-sync",
];

const vaultArgs = {
  addr: { type: "string", valueHint: "url", description: "Vault address (env VAULT_ADDR; required)" },
  "token-file": { type: "string", valueHint: "path", description: "File holding the Vault token (env VAULT_TOKEN_FILE; default: env VAULT_TOKEN)" },
  mount: { type: "string", valueHint: "path", description: "KV version 2 mount (default secret)" },
  path: { type: "string", valueHint: "path", description: "Secret path inside the mount (required), e.g. claude/alice" },
  credentials: { type: "string", valueHint: "path", description: "Credentials file (default ~/.claude/.credentials.json)" },
  key: { type: "string", valueHint: "name", description: "Key of the OAuth record in the credentials file (default claudeAiOauth)" },
  "env-file": { type: "string", valueHint: "path", description: "Env file for the setup token (default $XDG_CONFIG_HOME/tokenctl/oauth.env)" },
  "env-name": { type: "string", valueHint: "NAME", description: "Variable name in the env file (default CLAUDE_CODE_OAUTH_TOKEN)" },
  "setup-token-prefix": { type: "string", valueHint: "prefix", description: "Prefix of a long-lived setup token (default sk-ant-oat01-)" },
  "expect-display-name": { type: "string", valueHint: "name", description: "Refuse a Vault token whose display_name differs (default: not checked)" },
  "expect-policy": { type: "string", valueHint: "policy", description: "Refuse a Vault token without this policy (default: not checked)" },
  probe: { type: "string", valueHint: "CMD", description: "Command (run by /bin/sh) that exits 0 when the local credential works (default: check shape and expiry only)" },
  "state-dir": { type: "string", valueHint: "path", description: "Lock and sync.log (default $XDG_STATE_HOME/tokenctl/vault-sync)" },
  timeout: { type: "string", valueHint: "seconds", description: "Limit per Vault request (default 10)" },
  ...commonArgs,
} as const satisfies ArgsDef;

const forceArg = {
  force: { type: "boolean", description: "Replace even when the other side expires later" },
} as const satisfies ArgsDef;

type Args = VaultFlags & { verbose?: boolean; json?: boolean; force?: boolean; "dry-run"?: boolean };

/** Settings, token and the Vault client; every flag is checked before anything is touched. */
function connect(args: Args, command: string): { config: VaultConfig; client: VaultClient; token: string } {
  const config = resolveVaultConfig(args, process.env, true, command);
  const token = readVaultToken(config);
  return { config, token, client: new VaultClient({ addr: config.addr, token, timeoutMs: config.timeoutMs }) };
}

/** connect() plus the real files, the sync log in the state dir, and the probe. */
function setup(args: Args, command: string): { config: VaultConfig; deps: SyncDeps; client: VaultClient } {
  const { config, token, client } = connect(args, command);
  const o = config.options;
  const probe = config.probe;
  ensurePrivateDir(o.stateDir);
  const syncLog = fileLog({ file: join(o.stateDir, "sync.log"), echo: args.verbose ? (line) => log().info(line) : undefined });
  syncLog.addSecret(token);
  return {
    config,
    client,
    deps: {
      vault: client,
      files: realFiles(o),
      log: syncLog,
      probe: probe ? () => runProbe(probe) : undefined,
    },
  };
}

function print(result: SyncResult, args: Args): void {
  if (args.json) printJson(result);
  else printResult(`${result.level} ${result.message}`);
}

/** The dry run's plan: one line per change, then the line the real run would end with. */
function printPlan(plan: SyncPlan, args: Args): void {
  if (args.json) return printJson(plan);
  const width = Math.max(0, ...plan.steps.map((s) => s.do.length));
  const o = plan.outcome;
  printResult(
    [
      plan.steps.length ? "dry run, nothing changed; vault sync would:" : "dry run, nothing changed; vault sync would change nothing",
      ...plan.steps.map((s) => `  ${s.do.padEnd(width)}  ${s.detail}`),
      `and end with: ${o.level} ${o.message}${o.exitCode ? ` (exit ${o.exitCode})` : ""}`,
    ].join("\n"),
  );
}

const sync = defineCommand({
  meta: helpMeta({
    name: "sync",
    description: "Materialize the setup token, or probe, restore and back up the rotating credential",
    env: VAULT_ENV,
    examples: [
      "tokenctl vault sync --path claude/alice",
      "tokenctl vault sync --path claude/alice --probe 'claude -p ping' --expect-policy claude-alice",
      "tokenctl vault sync --path claude/alice --dry-run",
    ],
  }),
  args: {
    ...vaultArgs,
    "dry-run": { type: "boolean", description: "Print what sync would change, and change nothing (no Vault write, no file, no log line)" },
  },
  async run({ args }) {
    process.umask(0o077);
    if (args["dry-run"]) {
      const { config, client } = connect(args, "sync");
      const files = realFiles(config.options);
      return printPlan(await dryRunSync(config.options, { vault: client, files, probeConfigured: config.probe !== undefined }), args);
    }
    const { config, deps } = setup(args, "sync");
    print(await runSync(config.options, deps), args);
  },
});

/** `vault backup` and `vault restore`: one change under the lock, --force to replace a later-expiring side. */
function forcible(name: "backup" | "restore", description: string, run: typeof runBackup) {
  return defineCommand({
    meta: helpMeta({
      name,
      description,
      env: VAULT_ENV,
      examples: [`tokenctl vault ${name} --path claude/alice`, `tokenctl vault ${name} --path claude/alice --force${name === "backup" ? " --json" : ""}`],
    }),
    args: { ...vaultArgs, ...forceArg },
    async run({ args }) {
      process.umask(0o077);
      const { config, deps } = setup(args, name);
      print(await run(config.options, { ...deps, force: args.force }), args);
    },
  });
}

const backup = forcible("backup", "Back up the local credential to Vault (check-and-set, sibling fields kept)", runBackup);
const restore = forcible("restore", "Restore the Vault backup into the credentials file (other keys kept)", runRestore);

const status = defineCommand({
  meta: helpMeta({
    name: "status",
    description: "Show the mode in force, the last sync result and both expiries (no secrets)",
    env: VAULT_ENV,
    examples: ["tokenctl vault status --path claude/alice", "tokenctl vault status --path claude/alice --json"],
  }),
  args: vaultArgs,
  async run({ args }) {
    // Reads only: no state dir, lock or log is made.
    const { config, client } = connect(args, "status");
    const report = await runStatus(config.options, { vault: client, files: realFiles(config.options) });
    const { error, ...vault } = report.vault;
    const result = { ...report, vault };
    if (!error) {
      if (args.json) printJson(result);
      else printResult(statusText(report));
      return;
    }
    // What could be learned is printed (as text), or rides on the error into --json's error object.
    if (args.json) throw Object.assign(error, { result });
    printResult(statusText(report));
    throw error;
  },
});

function statusText(report: StatusReport): string {
  const { error, ...vault } = report.vault;
  const r = report.lastResult;
  return [
    `mode: ${report.mode}`,
    `env file: ${report.envFile.path} (${report.envFile.present ? "present" : "absent"})`,
    `last result: ${r ? `${r.time} ${r.level} ${r.message}` : "none logged"}`,
    `local credential: ${report.local.expiresAt ? `expires ${report.local.expiresAt}` : report.local.problem}`,
    `Vault backup: ${
      error
        ? `unknown (${error.message})`
        : `${vault.backupExpiresAt ? `expires ${vault.backupExpiresAt}` : vault.problem}; secret version ${vault.version}${vault.backedUpAt ? `, backed up ${vault.backedUpAt}` : ""}`
    }`,
  ].join("\n");
}

export default defineCommand({
  meta: helpMeta({
    name: "vault",
    description: "Back up, restore and materialize OAuth credentials through Vault",
    env: VAULT_ENV,
    examples: ["tokenctl vault sync --path claude/alice", "tokenctl vault status --path claude/alice"],
  }),
  subCommands: { sync, backup, restore, status },
});

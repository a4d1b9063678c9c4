/**
 * `vault` flags and environment in, checked settings out. Pure apart from reading the Vault
 * token file (through the secure read). Every check runs before any side effect (STYLE habit 5).
 */
import { parseDuration } from "../duration.ts";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { configDir, type Env, expandHome, stateDir } from "../fs/paths.ts";
import { readSecretFile } from "../fs/secure.ts";
import type { SyncOptions } from "./sync.ts";

export interface VaultFlags {
  addr?: string;
  "token-file"?: string;
  mount?: string;
  path?: string;
  credentials?: string;
  key?: string;
  "env-file"?: string;
  "env-name"?: string;
  "setup-token-prefix"?: string;
  "expect-display-name"?: string;
  "expect-policy"?: string;
  probe?: string;
  "state-dir"?: string;
  timeout?: string;
}

export interface VaultConfig {
  addr: string;
  /** Where the Vault token comes from: a file (flag or VAULT_TOKEN_FILE), else the VAULT_TOKEN variable. */
  tokenSource: { file: string } | { env: "VAULT_TOKEN" };
  timeoutMs: number;
  probe?: string;
  options: SyncOptions;
}

/** The flags that pick the Vault, its token, the secret and the local file: hints repeat them (SyncOptions.flags). */
const REPEATED = ["addr", "token-file", "mount", "path", "credentials", "key", "state-dir", "expect-display-name", "expect-policy"] as const;

const SEGMENTS = /^[A-Za-z0-9_.@+-]+(\/[A-Za-z0-9_.@+-]+)*$/;

function checkPath(flag: string, value: string): string {
  const v = value.replace(/^\/+|\/+$/g, "");
  if (!SEGMENTS.test(v) || v.split("/").some((s) => s === "." || s === ".."))
    throw new UsageError(`${flag} must be a Vault path like team/claude/alice (letters, digits, _ . @ + - and /); found ${JSON.stringify(value)}`);
  return v;
}

/**
 * Resolve flags, then env vars, then defaults. Throws UsageError naming the missing or bad flag,
 * with a fix line for `tokenctl vault <command>`, the command that was run.
 */
export function resolveVaultConfig(flags: VaultFlags, env: Env = process.env, needPath = true, command = "sync"): VaultConfig {
  // Fix lines repeat the command with the path given (when it is a plain one), so they can be run as they are.
  const given = flags.path && SEGMENTS.test(flags.path) ? flags.path : "claude/alice";
  const fix = (flag: string) => `tokenctl vault ${command} ${flag} --path ${given}`;
  const addr = flags.addr || env.VAULT_ADDR;
  if (!addr) throw new UsageError("No Vault address: pass --addr or set VAULT_ADDR", { hint: `${fix("--addr https://vault.example:8200")}, with your Vault's address` });
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    throw new UsageError(`--addr must be an http(s) URL such as https://vault.example:8200; found something that is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UsageError(`--addr must use https:// or http://; found ${url.protocol}`);
  if (url.username || url.password) throw new UsageError("--addr must not carry a user name or password; the Vault token goes in --token-file");
  if (needPath && !flags.path)
    throw new UsageError("No secret path: pass --path (the KV v2 secret, e.g. --path claude/alice)", { hint: `tokenctl vault ${command} --path claude/alice, with your secret's path` });
  const tokenFile = flags["token-file"] || env.VAULT_TOKEN_FILE;
  if (!tokenFile && !env.VAULT_TOKEN)
    throw new UsageError("No Vault token: pass --token-file, or set VAULT_TOKEN_FILE (or VAULT_TOKEN)", { hint: fix("--token-file ~/.config/tokenctl/vault.token") });
  const prefix = flags["setup-token-prefix"] ?? "sk-ant-oat01-";
  if (prefix === "") throw new UsageError("--setup-token-prefix must not be empty");
  const envName = flags["env-name"] ?? "CLAUDE_CODE_OAUTH_TOKEN";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName)) throw new UsageError(`--env-name must be a shell variable name; found ${JSON.stringify(envName)}`);
  const key = flags.key ?? "claudeAiOauth";
  if (key === "") throw new UsageError("--key must not be empty");
  return {
    addr,
    tokenSource: tokenFile ? { file: expandHome(tokenFile, env) } : { env: "VAULT_TOKEN" },
    timeoutMs: parseDuration(flags.timeout ?? "10", "--timeout", 3_600_000),
    probe: flags.probe || undefined,
    options: {
      mount: checkPath("--mount", flags.mount ?? "secret"),
      path: needPath ? checkPath("--path", flags.path!) : (flags.path ?? ""),
      credentials: expandHome(flags.credentials ?? "~/.claude/.credentials.json", env),
      key,
      envFile: expandHome(flags["env-file"] ?? join(configDir(env), "oauth.env"), env),
      stateDir: expandHome(flags["state-dir"] ?? join(stateDir(env), "vault-sync"), env),
      settings: { setupTokenPrefix: prefix, envName },
      expectDisplayName: flags["expect-display-name"] || undefined,
      expectPolicy: flags["expect-policy"] || undefined,
      flags: REPEATED.flatMap((f) => (flags[f] ? [`--${f}`, flags[f]] : [])),
    },
  };
}

/** The Vault token: the token file through the secure read, else VAULT_TOKEN. */
export function readVaultToken(config: VaultConfig, env: Env = process.env): string {
  const token = "file" in config.tokenSource ? readSecretFile(config.tokenSource.file) : (env.VAULT_TOKEN ?? "").trim();
  const from = "file" in config.tokenSource ? config.tokenSource.file : "VAULT_TOKEN";
  if (token === "") throw new UsageError(`${from} is empty; expected a Vault token`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`${from} must hold one Vault token: printable characters, no spaces or line breaks`);
  return token;
}

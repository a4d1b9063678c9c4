import { describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../src/errors.ts";
import { readVaultToken, resolveVaultConfig, type VaultFlags } from "../../src/vault/config.ts";
import { tempDir } from "../support/tmp.ts";

const ENV = { HOME: "/home/alice", VAULT_ADDR: "https://vault.example:8200", VAULT_TOKEN_FILE: "/home/alice/.vault-sync-token" };

describe("resolveVaultConfig", () => {
  it("fix lines name the command that was run and the path given", () => {
    const hint = (flags: VaultFlags, env: Record<string, string>, command?: string) => {
      try {
        resolveVaultConfig(flags, env, true, command);
      } catch (e) {
        return (e as UsageError).hint;
      }
      throw new Error("expected a usage error");
    };
    expect(hint({ path: "claude/bob" }, { HOME: "/h", VAULT_TOKEN: "x" }, "status")).toBe("tokenctl vault status --addr https://vault.example:8200 --path claude/bob, with your Vault's address");
    expect(hint({ path: "a b" }, { HOME: "/h", VAULT_TOKEN: "x" }, "backup")).toStartWith("tokenctl vault backup --addr https://vault.example:8200 --path claude/alice,");
    expect(hint({ path: "p" }, { HOME: "/h", VAULT_ADDR: "https://v" }, "restore")).toBe("tokenctl vault restore --token-file ~/.config/tokenctl/vault.token --path p");
    expect(hint({}, ENV, "status")).toBe("tokenctl vault status --path claude/alice, with your secret's path");
  });

  it("fills the documented defaults", () => {
    const c = resolveVaultConfig({ path: "claude/alice" }, ENV);
    expect(c).toEqual({
      addr: "https://vault.example:8200",
      tokenSource: { file: "/home/alice/.vault-sync-token" },
      timeoutMs: 10_000,
      probe: undefined,
      options: {
        mount: "secret",
        path: "claude/alice",
        credentials: "/home/alice/.claude/.credentials.json",
        key: "claudeAiOauth",
        envFile: "/home/alice/.config/tokenctl/oauth.env",
        stateDir: "/home/alice/.local/state/tokenctl/vault-sync",
        settings: { setupTokenPrefix: "sk-ant-oat01-", envName: "CLAUDE_CODE_OAUTH_TOKEN" },
        expectDisplayName: undefined,
        expectPolicy: undefined,
        flags: ["--path", "claude/alice"],
      },
    });
  });

  it("lets flags win over env and honours XDG dirs", () => {
    const c = resolveVaultConfig(
      { path: "/a/b/", addr: "http://127.0.0.1:8200", "token-file": "~/t", mount: "kv", timeout: "500ms", "env-name": "X_TOKEN", probe: "claude -p hi" },
      { ...ENV, XDG_CONFIG_HOME: "/cfg", XDG_STATE_HOME: "/st" },
    );
    expect(c.addr).toBe("http://127.0.0.1:8200");
    expect(c.tokenSource).toEqual({ file: "/home/alice/t" });
    expect(c.options).toMatchObject({ mount: "kv", path: "a/b", envFile: "/cfg/tokenctl/oauth.env", stateDir: "/st/tokenctl/vault-sync" });
    expect(c.timeoutMs).toBe(500);
    expect(c.probe).toBe("claude -p hi");
    // Hints repeat the flags that pick the Vault, token, secret and file, as given; not --probe or --timeout.
    expect(c.options.flags).toEqual(["--addr", "http://127.0.0.1:8200", "--token-file", "~/t", "--mount", "kv", "--path", "/a/b/"]);
  });

  it("falls back to VAULT_TOKEN when no token file is named", () => {
    expect(resolveVaultConfig({ path: "p" }, { HOME: "/h", VAULT_ADDR: "https://v", VAULT_TOKEN: "hvs.x" }).tokenSource).toEqual({ env: "VAULT_TOKEN" });
  });

  it.each<[string, VaultFlags, Record<string, string>, string]>([
    ["no address", { path: "p" }, { HOME: "/h", VAULT_TOKEN: "x" }, "No Vault address"],
    ["address not a URL", { path: "p", addr: "not a url" }, { HOME: "/h", VAULT_TOKEN: "x" }, "http(s) URL"],
    ["address without a scheme", { path: "p", addr: "vault:8200" }, { HOME: "/h", VAULT_TOKEN: "x" }, "https:// or http://"],
    ["address with a password", { path: "p", addr: "https://u:pw@vault" }, { HOME: "/h", VAULT_TOKEN: "x" }, "user name or password"],
    ["no path", {}, ENV, "No secret path"],
    ["path with ..", { path: "a/../b" }, ENV, "--path must be"],
    ["no token", { path: "p" }, { HOME: "/h", VAULT_ADDR: "https://v" }, "No Vault token"],
    ["bad timeout", { path: "p", timeout: "soon" }, ENV, "--timeout"],
    ["zero timeout", { path: "p", timeout: "0" }, ENV, "--timeout"],
    ["bad env name", { path: "p", "env-name": "A-B" }, ENV, "--env-name"],
    ["empty prefix", { path: "p", "setup-token-prefix": "" }, ENV, "--setup-token-prefix"],
  ])("refuses %s with a usage error", (_n, flags, env, text) => {
    expect(() => resolveVaultConfig(flags, env)).toThrow(UsageError);
    expect(() => resolveVaultConfig(flags, env)).toThrow(text);
  });

  it("parses --timeout with the shared duration syntax, capped at an hour", () => {
    expect(resolveVaultConfig({ addr: "http://127.0.0.1:8200", path: "a/b", timeout: "2.5s" } as VaultFlags, { VAULT_TOKEN: "x" }).timeoutMs).toBe(2500);
    expect(() => resolveVaultConfig({ addr: "http://127.0.0.1:8200", path: "a/b", timeout: "2h" } as VaultFlags, { VAULT_TOKEN: "x" })).toThrow(/at most 3600s/);
  });
});

describe("readVaultToken", () => {
  it("reads the token file through the secure read and refuses a too-open one", () => {
    const dir = tempDir();
    const file = join(dir, "tok");
    writeFileSync(file, "hvs.MARKER\n", { mode: 0o600 });
    const c = resolveVaultConfig({ path: "p", "token-file": file }, ENV);
    expect(readVaultToken(c)).toBe("hvs.MARKER");
    writeFileSync(join(dir, "open"), "hvs.MARKER\n", { mode: 0o644 });
    expect(() => readVaultToken(resolveVaultConfig({ path: "p", "token-file": join(dir, "open") }, ENV))).toThrow("too open");
  });

  it("refuses an empty or multi-word token without echoing it", () => {
    const c = resolveVaultConfig({ path: "p" }, { HOME: "/h", VAULT_ADDR: "https://v", VAULT_TOKEN: "hvs.MARKER two" });
    let message = "";
    try {
      readVaultToken(c, { VAULT_TOKEN: "hvs.MARKER two" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("must hold one Vault token");
    expect(message).not.toContain("MARKER");
    expect(() => readVaultToken(c, { VAULT_TOKEN: " " })).toThrow("is empty");
  });
});

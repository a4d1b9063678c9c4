/** Doctor's Vault row: reachable, and its token valid (lookup-self). */
import { AuthRefusedError, UnavailableError } from "../errors.ts";
import { formatDuration, guarded, messageOf, type DoctorDeps } from "./deps.ts";
import { shq, type Check } from "./paths.ts";

/** Vault reachable and its token valid (lookup-self), when an address is configured. */
export async function checkVault(o: { addr?: string; tokenFile?: string; timeoutMs: number }, deps: Pick<DoctorDeps, "env" | "vaultLookupSelf">): Promise<Check> {
  const name = "vault";
  const addr = o.addr || deps.env.VAULT_ADDR;
  if (!addr) return { name, status: "skip", detail: "not configured (no --vault-addr, no VAULT_ADDR)" };
  return guarded(name, async () => {
    const { resolveVaultConfig, readVaultToken } = await import("../vault/config.ts");
    const { displayAddr } = await import("../vault/client.ts");
    const config = resolveVaultConfig({ addr, "token-file": o.tokenFile, timeout: `${o.timeoutMs}ms` }, deps.env, false);
    const where = displayAddr(config.addr);
    const from = "file" in config.tokenSource ? config.tokenSource.file : "VAULT_TOKEN";
    const token = readVaultToken(config, deps.env);
    try {
      const info = await deps.vaultLookupSelf({ addr: config.addr, token, timeoutMs: config.timeoutMs });
      const ttl = info.ttl === 0 ? "does not expire" : `expires in ${formatDuration(info.ttl * 1000)}${info.renewable ? " (renewable)" : ""}`;
      const detail = `${where}: token from ${from} is valid (${info.displayName || "no display name"}; ${ttl})`;
      if (info.ttl > 0 && !info.renewable && info.ttl < 86400)
        return { name, status: "warn", detail: `${detail}; not renewable, so sync stops within a day`, fix: `( umask 077; cat > ${shq("file" in config.tokenSource ? from : "~/.config/tokenctl/vault.token")} )   # paste a new token` };
      return { name, status: "ok", detail };
    } catch (e) {
      if (e instanceof AuthRefusedError)
        return {
          name,
          status: "fail",
          detail: `${where}: ${messageOf(e)}`,
          fix: "file" in config.tokenSource ? `( umask 077; cat > ${shq(from)} )   # paste a valid Vault token, then Ctrl-D` : "export a valid VAULT_TOKEN, or better: VAULT_TOKEN_FILE",
        };
      if (e instanceof UnavailableError) return { name, status: "fail", detail: `${where}: ${messageOf(e)}`, fix: e.hint ?? `check VAULT_ADDR (${where}) and that Vault is unsealed: curl -s ${where}/v1/sys/health` };
      throw e;
    }
  });
}

/** `tokenctl doctor`: check every file, the keychain, the daemon, OAuth profiles and Vault; thin over src/doctor. */
import { defineCommand } from "citty";
import { commonArgs, daemonClientArgs, ENV, helpMeta } from "./_shared.ts";
import { log, printJson, printResult } from "./output.ts";
import { parseDuration } from "../duration.ts";

export default defineCommand({
  meta: helpMeta({
    name: "doctor",
    description: "Check files and modes, keychain, daemon, OAuth profiles and Vault; print each problem with its fix (exit 1 if any)",
    env: [
      ENV.socket,
      ENV.daemonToken,
      ENV.runtime,
      ENV.state,
      ENV.config,
      "TOKENCTL_TOKEN_FILE — the token file to check",
      "VAULT_ADDR — Vault to check (as --vault-addr; unset: Vault is skipped)",
      "VAULT_TOKEN_FILE — Vault token file (as --vault-token-file), else VAULT_TOKEN",
      "DBUS_SESSION_BUS_ADDRESS — the Secret Service session for the keychain check",
    ],
    examples: ["tokenctl doctor", "tokenctl doctor --json", "tokenctl doctor --vault-addr https://vault.example.com:8200"],
  }),
  args: {
    ...daemonClientArgs,
    "vault-addr": { type: "string", valueHint: "url", description: "Vault address to check (env VAULT_ADDR; default: none, and Vault is skipped)" },
    "vault-token-file": { type: "string", valueHint: "path", description: "Vault token file (env VAULT_TOKEN_FILE, then VAULT_TOKEN; default: none)" },
    timeout: { type: "string", valueHint: "duration", description: "Per daemon/Vault request (default 5s)" },
    ...commonArgs,
  },
  async run({ args }) {
    const timeoutMs = parseDuration(args.timeout ?? "5", "--timeout", 3_600_000);
    const { runDoctor, realDeps, hasFailures, DoctorProblemsError } = await import("../doctor/checks.ts");
    const { formatTable, summarize } = await import("../doctor/report.ts");
    const checks = await runDoctor(
      { socket: args.socket, tokenFile: args["token-file"], vaultAddr: args["vault-addr"], vaultTokenFile: args["vault-token-file"], timeoutMs },
      realDeps(),
    );
    // Failing rows end as one error (exit 1) carrying the summary; under --json the rows ride on it
    // as `result`, so stdout stays one JSON value (main.ts prints it).
    const failed = hasFailures(checks);
    if (args.json && !failed) printJson(checks);
    else if (!args.json) printResult(formatTable(checks));
    if (failed)
      throw new DoctorProblemsError(summarize(checks), { hint: "Run the fix: line under each FAIL row, then tokenctl doctor again", result: checks });
    log().success(summarize(checks));
  },
});

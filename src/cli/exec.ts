/** `tokenctl exec --oauth PROFILE [--env NAME] -- CMD…`: run CMD with a fresh access token in its env. */
import { defineCommand } from "citty";
import { daemonClientArgs, ENV, helpMeta, verboseArgs } from "./_shared.ts";
import { obtainToken, profileArgs, profileFrom } from "./oauth.ts";
import { parseDuration } from "../duration.ts";
import { ExitStatus, UsageError } from "../errors.ts";

export default defineCommand({
  meta: helpMeta({
    name: "exec",
    description: "Run a command with a fresh OAuth access token in an env var (for tools that only read env)",
    env: [ENV.config, ENV.state, ENV.socket, ENV.daemonToken, ENV.runtime, "OAUTH_ACCESS_TOKEN — set (not read) for the command: the access token, unless --env names another variable"],
    operands: "-- CMD [ARGS…]",
    examples: ["tokenctl exec --oauth work -- ./agent --serve", "tokenctl exec --oauth work --env GITHUB_TOKEN --min-valid 30m -- gh repo list"],
  }),
  args: {
    oauth: { type: "string", valueHint: "profile", description: "OAuth profile whose access token to pass", required: true },
    env: { type: "string", valueHint: "NAME", description: "Env var for the token (default OAUTH_ACCESS_TOKEN)" },
    "min-valid": { type: "string", valueHint: "duration", description: "Refresh first when the token expires within this (default: 5m, or half the token's lifetime when shorter)" },
    ...profileArgs,
    ...daemonClientArgs,
    ...verboseArgs,
  },
  async run({ args, rawArgs }) {
    const end = rawArgs.indexOf("--");
    const command = end === -1 ? [] : rawArgs.slice(end + 1);
    if (command.length === 0) throw new UsageError("No command to run: expected `tokenctl exec --oauth PROFILE -- CMD [ARGS…]`");
    const name = args.env ?? "OAUTH_ACCESS_TOKEN";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--env: expected an environment variable name, found "${name}"`);
    const profile = profileFrom({ ...args, profile: args.oauth });
    const minValidMs = args["min-valid"] === undefined ? undefined : parseDuration(args["min-valid"], "--min-valid");
    const timeoutMs = parseDuration(args.timeout ?? "30s", "--timeout");
    const got = await obtainToken(args, profile, minValidMs, timeoutMs);
    const { startCommandChecked } = await import("../session/exec.ts");
    const run = await startCommandChecked({ argv: command, env: { ...process.env, [name]: got.accessToken }, stdio: "inherit" });
    const { code: status } = await run.exited;
    if (status !== 0) throw new ExitStatus(status);
  },
});

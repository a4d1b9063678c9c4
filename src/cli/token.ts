/** `tokenctl token get|headers|set`: thin wrappers over src/token. */
import { defineCommand, type ArgsDef } from "citty";
import { commonArgs, ENV, helpMeta } from "./_shared.ts";
import { printJson, printResult } from "./print.ts";
import { resolveSources, type SourceFlags, type TokenSources } from "../token/sources.ts";
import { NotFoundError } from "../errors.ts";
import { defaultReaderDeps, formatAttempts, readToken, TokenNotFoundError, type TokenResult } from "../token/reader.ts";
import { formatHeaderLines, headersFor } from "../token/headers.ts";

const sourceArgs = {
  preset: { type: "enum", options: ["claude-code"], description: "Use another tool's variable and file names (default: tokenctl's own)" },
  env: { type: "string", valueHint: "NAME", description: "Env var holding the token (default TOKENCTL_TOKEN)" },
  "fd-env": { type: "string", valueHint: "NAME", description: "Env var holding an inherited fd number (default TOKENCTL_TOKEN_FD)" },
  file: { type: "string", valueHint: "path", description: "Token file (env TOKENCTL_TOKEN_FILE; default $XDG_STATE_HOME/tokenctl/token)" },
  explain: { type: "boolean", description: "Say on stderr which source gave the token" },
} as const satisfies ArgsDef;

/** Only for the commands that read the fd source. */
const readArgs = {
  ...sourceArgs,
  "fd-timeout": { type: "string", valueHint: "duration", description: "How long the fd source may take to reach end of input (default 2s)" },
} as const satisfies ArgsDef;

/** The variables the token sources read (see src/token/sources.ts). */
const SOURCE_ENV = [
  "TOKENCTL_TOKEN — the token itself (as --env)",
  "TOKENCTL_TOKEN_FD — number of an inherited fd holding the token (as --fd-env)",
  "TOKENCTL_TOKEN_FILE — the token file (as --file)",
  "CLAUDE_CODE_SESSION_ACCESS_TOKEN — the token, with --preset claude-code",
  "CLAUDE_CODE_WEBSOCKET_AUTH_FILE_DESCRIPTOR — the fd number, with --preset claude-code",
  "CLAUDE_SESSION_INGRESS_TOKEN_FILE — the token file, with --preset claude-code",
  ENV.state,
];

function flagsOf(args: { preset?: string; env?: string; "fd-env"?: string; file?: string }): SourceFlags {
  return { preset: args.preset, env: args.env, fdEnv: args["fd-env"], file: args.file };
}

/** Read the token, reporting persistence problems and (with --explain) the sources tried. */
async function read(args: { explain?: boolean; "fd-timeout"?: string } & Parameters<typeof flagsOf>[0]): Promise<{ result: TokenResult; orgEnvName: string }> {
  // Loaded only with the flag: `token get` runs in loops and pays for every module.
  const fdTimeoutMs = args["fd-timeout"] === undefined ? undefined : (await import("../duration.ts")).parseDuration(args["fd-timeout"], "--fd-timeout", 3_600_000);
  const sources = resolveSources(flagsOf(args));
  let result: TokenResult;
  try {
    result = readToken(sources, defaultReaderDeps(process.env, { fdTimeoutMs }));
  } catch (e) {
    if (e instanceof TokenNotFoundError) throw new NotFoundError(e.message, { hint: handOverHint(args, sources) });
    throw e;
  }
  if (args.explain || result.persistError) {
    const { log } = await import("./output.ts");
    if (result.persistError) log().warn(`Token read from fd but not saved for subprocesses: ${result.persistError}`);
    if (args.explain) log().info(`Token from ${result.source}. Sources, in order:\n${formatAttempts(result.attempts)}${result.persistedTo ? `\n  saved to ${result.persistedTo} for subprocesses` : ""}`);
  }
  return { result, orgEnvName: sources.orgEnvName };
}

type ReadArgs = Parameters<typeof read>[0] & { json?: boolean };

/** The fix for "no token": the `token set` that writes the file this command read, or the variables it read. */
function handOverHint(args: Parameters<typeof flagsOf>[0], sources: TokenSources): string {
  const flags = args.file ? ` --file ${/^[\w@%+=:,./~-]+$/.test(args.file) ? args.file : `'${args.file.replace(/'/g, `'\\''`)}'`}` : args.preset ? ` --preset ${args.preset}` : "";
  return `Hand the process a token: printf %s "$TOKEN" | tokenctl token set${flags}; or set ${sources.envName}, or ${sources.fdEnvName} to an inherited fd`;
}

async function runGet(args: ReadArgs): Promise<void> {
  const { result } = await read(args);
  if (args.json) printJson({ token: result.token, source: result.source, ...(result.persistedTo ? { persistedTo: result.persistedTo } : {}) });
  else printResult(result.token);
}

async function runHeaders(args: ReadArgs): Promise<void> {
  const { result, orgEnvName } = await read(args);
  const list = headersFor(result.token, process.env[orgEnvName]?.trim() || undefined);
  if (args.json) printJson(Object.fromEntries(list));
  else printResult(formatHeaderLines(list));
}

export const get = defineCommand({
  meta: helpMeta({
    name: "get",
    description: "Print this process's session token (env, then inherited fd, then file)",
    env: SOURCE_ENV,
    examples: ["API_TOKEN=$(tokenctl token get) || exit; export API_TOKEN", "tokenctl token get --preset claude-code --explain", "tokenctl token get --fd-timeout 10s"],
  }),
  args: { ...readArgs, ...commonArgs },
  run: ({ args }) => runGet(args),
});

export const headers = defineCommand({
  meta: helpMeta({
    name: "headers",
    description: "Print the HTTP headers carrying the token, one per line (for curl -H @-)",
    env: [
      ...SOURCE_ENV,
      "TOKENCTL_ORGANIZATION_UUID — sent as X-Organization-Uuid with a session key (CLAUDE_CODE_ORGANIZATION_UUID with --preset claude-code)",
    ],
    examples: [`h=$(tokenctl token headers) || exit; printf '%s\\n' "$h" | curl -H @- https://api.example.com/v1/me`, "tokenctl token headers --json"],
  }),
  args: { ...readArgs, ...commonArgs },
  run: ({ args }) => runHeaders(args),
});


const set = defineCommand({
  meta: helpMeta({
    name: "set",
    description: "Read a token from stdin and write the token file (0600, atomic)",
    env: ["TOKENCTL_TOKEN_FILE — the token file to write (as --file)", ENV.state],
    examples: ['printf %s "$NEW_TOKEN" | tokenctl token set', "tokenctl token set --file ~/.agent/token < new-token"],
  }),
  args: {
    file: sourceArgs.file,
    preset: sourceArgs.preset,
    ...commonArgs,
  },
  async run({ args }) {
    const { validateTokenInput, storeToken } = await import("../token/store.ts");
    const sources = resolveSources(flagsOf(args));
    let input: string;
    if (process.stdin.isTTY) {
      const { password, isCancel } = await import("@clack/prompts");
      const answer = await password({ message: "Token", output: process.stderr });
      if (isCancel(answer)) {
        const { UsageError } = await import("../errors.ts");
        throw new UsageError("Cancelled; nothing was written");
      }
      input = answer;
    } else {
      input = await (await import("../runtime/stdin.ts")).readStdinText();
    }
    storeToken(sources.file, validateTokenInput(input));
    const { log } = await import("./output.ts");
    if (args.json) printJson({ file: sources.file });
    else log().success(`Token written to ${sources.file}`);
  },
});

export default defineCommand({
  meta: helpMeta({
    name: "token",
    description: "Read, format and hand over session tokens",
    env: SOURCE_ENV,
    examples: ["tokenctl token get", 'printf %s "$NEW_TOKEN" | tokenctl token set'],
  }),
  subCommands: { get, headers, set },
});

export { TokenNotFoundError };

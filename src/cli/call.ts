/** `tokenctl call TYPE` and `tokenctl subscribe`: talk to the daemon through src/daemon/client.ts. */
import { defineCommand } from "citty";
import { UnavailableError, UsageError } from "../errors.ts";
import { commonArgs, daemonClientArgs, ENV, helpMeta } from "./_shared.ts";
import { log, printJson } from "./output.ts";

async function connect(args: { socket?: string; "token-file"?: string }) {
  const { resolveDaemonPaths } = await import("../daemon/paths.ts");
  const { connectDaemon } = await import("../daemon/client.ts");
  const paths = resolveDaemonPaths({ socket: args.socket, tokenFile: args["token-file"] });
  if (paths.runtimeWarning) log().warn(paths.runtimeWarning);
  return connectDaemon({ socketPath: paths.socketPath, tokenFile: paths.tokenFile });
}

/** --data: a JSON object, or "-" to read it from stdin (keeps secrets out of argv). */
async function parseData(data: string | undefined): Promise<Record<string, unknown>> {
  if (data === undefined) return {};
  const text = data === "-" ? await (await import("../runtime/stdin.ts")).readStdinText() : data;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--data expects a JSON object, got text that is not JSON`, { hint: `tokenctl call TYPE --data '{"key":"value"}'` });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UsageError(`--data expects a JSON object, got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`);
  return value as Record<string, unknown>;
}

export default defineCommand({
  meta: helpMeta({
    name: "call",
    description: "Send one request to the daemon and print its response as JSON",
    env: [ENV.socket, ENV.daemonToken, ENV.runtime],
    examples: ["tokenctl call status", `tokenctl call publish --data '{"topic":"deploy","data":{"ok":true}}'`],
  }),
  args: {
    type: { type: "positional", required: true, description: "Message type, e.g. ping or status" },
    data: { type: "string", valueHint: "json", description: 'Request fields as a JSON object ("-" reads it from stdin; default: none)' },
    ...daemonClientArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const body = await parseData(args.data);
    const client = await connect(args);
    try {
      const response = await client.request(args.type, body);
      if (response.type !== "error") return printJson(response);
      // An error answer is a failure: under --json it rides on the error object (main.ts), so stdout stays one JSON value.
      if (!args.json) printJson(response);
      const { DaemonRequestError } = await import("../daemon/client.ts");
      const error = new DaemonRequestError(`The daemon answered "${args.type}" with an error: ${String(response.message)}`, response);
      error.result = response;
      throw error;
    } finally {
      client.close();
    }
  },
});

export const subscribe = defineCommand({
  meta: helpMeta({
    name: "subscribe",
    description: "Print the daemon's events as JSON lines until interrupted",
    env: [ENV.socket, ENV.daemonToken, ENV.runtime],
    examples: ["tokenctl subscribe", "tokenctl subscribe --topic oauth | jq -r .data.profile"],
  }),
  args: {
    topic: { type: "string", valueHint: "topic", description: "Only this topic (repeat or comma-separate for several; default all)" },
    ...daemonClientArgs,
    ...commonArgs,
  },
  async run({ args }) {
    const raw = args.topic as string | string[] | undefined;
    const topics = raw === undefined ? undefined : [raw].flat().flatMap((t) => t.split(",")).map((t) => t.trim()).filter(Boolean);
    if (topics && topics.length === 0) throw new UsageError("--topic expects a topic name");
    const client = await connect(args);
    const ended = new Promise<"signal" | Error | undefined>((resolve) => {
      process.once("SIGINT", () => resolve("signal"));
      process.once("SIGTERM", () => resolve("signal"));
      client.onClose((reason) => resolve(reason));
    });
    client.onEvent((e) => printJson({ type: "event", topic: e.topic, data: e.data }));
    await client.subscribe(topics);
    log().info(`Subscribed to ${topics ? topics.join(", ") : "all topics"} on ${client.socketPath}`);
    const why = await ended;
    client.close();
    if (why !== "signal") throw new UnavailableError(`The daemon on ${client.socketPath} closed the connection${why ? `: ${why.message}` : ""}`);
  },
});

/** The one spawn (session/exec.ts) under Node and Deno: exit status, 128+n for a signal, not found as exit 2. */
import { describe, expect, test } from "bun:test";
import { bundle, command } from "./runtimes.ts";

describe.each(["node", "deno"] as const)("under %s", (runtime) => {
  const installed = !!command(runtime, "x");
  if (!installed) console.warn(`warning: ${runtime} not installed; skipping its exec tests`);
  const run = async (argv: string[]) => {
    const p = Bun.spawn([...command(runtime, await bundle("exec-cli.ts"))!, ...argv], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    await p.exited;
    return JSON.parse(out) as unknown;
  };
  test.skipIf(!installed)(`exit status, output, 128+n, command not found${installed ? "" : ` [SKIPPED: ${runtime} not installed]`}`, async () => {
    expect(await run(["sh", "-c", "echo hi; exit 7"])).toEqual({ code: 7, out: "hi\n" });
    expect(await run(["sh", "-c", "kill -TERM $$"])).toEqual({ code: 143, signal: "SIGTERM", out: "" });
    expect(await run(["tokenctl-no-such-command"])).toEqual({ error: "UsageError", exitCode: 2 });
  }, 20_000);
});

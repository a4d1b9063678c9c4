/**
 * The keychain edge: which backend each platform gets, security(1) driven without the secret in
 * argv, and, against the real Secret Service, an item written by Bun.secrets read through
 * secret-tool under Node and Deno, and the other way round.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { BUN_SECRET_SCHEMA, type RunTool, keychain, parseSecurityPassword, securityKeychain } from "../../src/runtime/keychain.ts";
import { announceSkip, keychainUnavailableReason } from "../support/keychain.ts";
import { bundle, command, type Runtime } from "./runtimes.ts";

describe("backend choice", () => {
  const has = (present: string[]) => (c: string) => present.includes(c);
  test.each([
    ["bun", "linux", [], "bun.secrets"],
    ["bun", "darwin", [], "bun.secrets"],
    ["node", "linux", ["secret-tool"], "secret-tool"],
    ["deno", "linux", ["secret-tool"], "secret-tool"],
    ["node", "darwin", ["security"], "security"],
    ["deno", "darwin", ["security"], "security"],
    ["node", "linux", [], "none"],
    ["node", "win32", ["secret-tool", "security"], "none"],
  ] as const)("%s on %s with %p: %s", (runtime, os, tools, backend) => {
    const fakeSecrets = { get: async () => null, set: async () => {}, delete: async () => false };
    const k = keychain({ runtime, os }, { has: has([...tools]), bunSecrets: fakeSecrets });
    expect(k.backend).toBe(backend);
  });

  test("none fails every call saying why (the caller falls back to its file store)", async () => {
    const k = keychain({ runtime: "node", os: "linux" }, { has: () => false });
    expect(k.reason).toMatch(/libsecret-tools/);
    await expect(k.get({ service: "s", name: "n" })).rejects.toThrow(/secret-tool was not found/);
  });
});

describe("security(1) on macOS (over a fake tool)", () => {
  const secret = 'va"lue é\nline2';
  function fake(stored: Map<string, string>) {
    const calls: { argv: string[]; input?: string }[] = [];
    const run: RunTool = async (argv, input) => {
      calls.push({ argv, input });
      if (argv[1] === "-i") {
        const m = /^add-generic-password -U -s (\S+) -a (\S+) -l \S+ -X ([0-9a-f]+)\n$/.exec(input ?? "");
        if (!m) return { status: 0, stdout: "", stderr: "bad command" };
        stored.set(`${m[1]}/${m[2]}`, Buffer.from(m[3]!, "hex").toString("utf8"));
        return { status: 0, stdout: "", stderr: "" };
      }
      const key = `${argv[argv.indexOf("-s") + 1]}/${argv[argv.indexOf("-a") + 1]}`;
      const value = stored.get(key);
      if (value === undefined) return { status: 44, stdout: "", stderr: "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n" };
      if (argv[1] === "delete-generic-password") {
        stored.delete(key);
        return { status: 0, stdout: "", stderr: "" };
      }
      const printable = /^[\x20-\x7e]*$/.test(value);
      const line = printable ? `password: "${value}"` : `password: 0x${Buffer.from(value).toString("hex").toUpperCase()}  "escaped"`;
      return { status: 0, stdout: 'keychain: "/Users/u/Library/Keychains/login.keychain-db"\n', stderr: `${line}\n` };
    };
    return { run, calls };
  }

  test("set passes the secret hex-encoded on stdin, never in argv; get, delete, missing", async () => {
    const stored = new Map<string, string>();
    const { run, calls } = fake(stored);
    const k = securityKeychain(run);
    const item = { service: "tokenctl", name: "oauth:work" };
    expect(await k.get(item)).toBeNull();
    await k.set({ ...item, value: secret });
    expect(stored.get("tokenctl/oauth:work")).toBe(secret);
    for (const c of calls) expect(c.argv.join(" ")).not.toContain("va");
    expect(calls.find((c) => c.argv[1] === "-i")!.input).toContain(Buffer.from(secret).toString("hex"));
    expect(await k.get(item)).toBe(secret);
    expect(await k.delete(item)).toBe(true);
    expect(await k.delete(item)).toBe(false);
  });

  test("a set that security -i did not apply is an error, without the secret in it", async () => {
    const run: RunTool = async (argv) => (argv[1] === "-i" ? { status: 0, stdout: "", stderr: "" } : { status: 44, stdout: "", stderr: "not found" });
    const err = await securityKeychain(run)
      .set({ service: "tokenctl", name: "n", value: "hunter2" })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).not.toContain("hunter2");
    expect(String((err as Error).message)).not.toContain(Buffer.from("hunter2").toString("hex"));
  });

  test.each([
    ['password: "plain"', "plain"],
    ['password: "with "quotes" inside"', 'with "quotes" inside'],
    ['password: 0x68C3A90A  "h\\303\\251\\012"', "hé\n"],
    ["password: ", ""],
    ["nothing", null],
  ])("parseSecurityPassword(%p)", (line, expected) => {
    expect(parseSecurityPassword(`keychain: "x"\n${line}\n`)).toBe(expected);
  });
});

const reason = await keychainUnavailableReason();
announceSkip(reason, "test/runtime/keychain.test.ts");
const skip = reason !== undefined;
const label = (name: string) => (skip ? `${name} [SKIPPED: no working keychain: ${reason}]` : name);

describe("the same item from Bun, Node and Deno (real Secret Service)", () => {
  const service = `tokenctl-test-${process.pid}`;
  afterEach(async () => {
    if (!skip) for (const name of ["a", "b", "c"]) await Bun.secrets.delete({ service, name });
  });

  async function inRuntime(runtime: Runtime, args: string[], input = "") {
    const argv = command(runtime, await bundle("keychain-cli.ts"))!;
    const p = Bun.spawn([...argv, ...args], { stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
    const [out, err] = [await new Response(p.stdout).text(), await new Response(p.stderr).text()];
    if ((await p.exited) !== 0) throw new Error(`${runtime} failed: ${err}`);
    return JSON.parse(out) as { backend: string; result: unknown };
  }

  for (const runtime of ["node", "deno"] as const) {
    const installed = !!command(runtime, "x");
    test.skipIf(skip || !installed)(label(`${runtime}${installed ? "" : " [not installed]"}: reads what Bun.secrets wrote, writes what Bun.secrets reads, deletes`), async () => {
      const value = `{"accessToken":"at-${runtime}","é":"✓"}`;
      await Bun.secrets.set({ service, name: "a", value });
      expect(await inRuntime(runtime, ["get", service, "a"])).toEqual({ backend: "secret-tool", result: value });
      expect(await inRuntime(runtime, ["set", service, "b"], `${value}-2`)).toEqual({ backend: "secret-tool", result: null });
      expect(await Bun.secrets.get({ service, name: "b" })).toBe(`${value}-2`);
      expect(await inRuntime(runtime, ["get", service, "c"])).toEqual({ backend: "secret-tool", result: null });
      expect(await inRuntime(runtime, ["delete", service, "a"])).toEqual({ backend: "secret-tool", result: true });
      expect(await Bun.secrets.get({ service, name: "a" })).toBeNull();
      expect(await inRuntime(runtime, ["delete", service, "a"])).toEqual({ backend: "secret-tool", result: false });
    }, 30_000);
  }

  test.skipIf(skip)(label(`secret-tool sees Bun's item under the schema ${BUN_SECRET_SCHEMA}`), async () => {
    await Bun.secrets.set({ service, name: "a", value: "v" });
    const p = Bun.spawnSync(["secret-tool", "search", "--all", "service", service]);
    // secret-tool prints the item on stdout and its attributes on stderr.
    const shown = p.stdout.toString() + p.stderr.toString();
    expect(shown).toContain(`schema = ${BUN_SECRET_SCHEMA}`);
    expect(shown).toContain(`attribute.service = ${service}`);
    expect(shown).toContain("attribute.account = a");
  });
});

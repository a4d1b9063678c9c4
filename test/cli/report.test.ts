/**
 * run() in src/main.ts from the source (test/smoke/cli.test.ts does the same through the binary):
 * one failure rule under --json, exit codes by kind, ExitStatus printing nothing, help and groups.
 */
import { afterEach, beforeEach, describe, expect, it, mock, spyOn } from "bun:test";
import { join } from "node:path";
import { run } from "../../src/main.ts";
import { tempDir } from "../support/tmp.ts";

let out = "";
let err = "";
beforeEach(() => {
  out = err = "";
  spyOn(process.stdout, "write").mockImplementation(((s: string | Uint8Array) => ((out += String(s)), true)) as typeof process.stdout.write);
  spyOn(process.stderr, "write").mockImplementation(((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write);
  process.env.XDG_STATE_HOME = join(tempDir(), "state");
});
afterEach(() => {
  mock.restore();
  delete process.env.XDG_STATE_HOME;
});

describe("run()", () => {
  it("a failure under --json: one error object on stdout, the message and fix on stderr, the kind's exit code", async () => {
    expect(await run(["token", "get", "--json"])).toBe(3);
    const obj = JSON.parse(out);
    expect(Object.keys(obj)).toEqual(["error"]);
    const hint: string = obj.error.hint;
    expect(hint).toContain("tokenctl token set");
    expect(obj.error).toMatchObject({ code: 3, kind: "not_found" });
    expect(obj.error.message).toStartWith("No token found. Tried, in order:");
    expect(err).toContain("No token found");
    expect(err).toContain(`Fix: ${hint}`);
  });

  it("the same failure without --json leaves stdout empty", async () => {
    expect(await run(["token", "get"])).toBe(3);
    expect(out).toBe("");
  });

  it("a usage error under --json is an error object too (kind usage, exit 2)", async () => {
    expect(await run(["token", "get", "--json", "--jsno"])).toBe(2);
    expect(JSON.parse(out).error).toMatchObject({ code: 2, kind: "usage", message: 'Unknown flag --jsno for tokenctl token get. Did you mean "--json"?' });
  });

  it("tokenctl help token get prints that command's help, exit 0", async () => {
    expect(await run(["help", "token", "get"])).toBe(0);
    expect(out).toContain("USAGE\n\n  tokenctl token get [OPTIONS]");
    expect(err).toBe("");
  });

  it("a group without its subcommand: its help on stderr, exit 2", async () => {
    expect(await run(["vault"])).toBe(2);
    expect(out).toBe("");
    expect(err).toContain("tokenctl vault COMMAND");
  });
});

/** The argument checks (src/cli/usage.ts): suggestions, extra and missing arguments, the missing `--`. */
import { describe, expect, it } from "bun:test";
import type { ArgsDef } from "citty";
import { checkArgs, distance, suggest, unknownCommand } from "../../src/cli/usage.ts";
import type { CommandNode } from "../../src/cli/tree.ts";
import { UsageError } from "../../src/errors.ts";

const leaf = (args: ArgsDef, meta: CommandNode["meta"] = {}): CommandNode => ({ path: ["x"], meta: { description: "x", ...meta }, args, children: [] });
const runner = leaf({ name: { type: "string", description: "n" }, quiet: { type: "boolean", description: "q" } }, { operands: "-- CMD [ARGS…]" });
const preset = leaf({ preset: { type: "enum", options: ["claude-code"], description: "p" } });
const shell = leaf({ shell: { type: "positional", required: true, description: "s" }, json: { type: "boolean", description: "j" } }, { choices: { shell: ["bash", "zsh", "fish"] } });

function failure(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const u = e as UsageError;
    return `${u.message} | ${u.hint}`;
  }
  return "no error";
}

describe("distance and suggest", () => {
  it.each([
    ["get", "get", 0],
    ["gte", "get", 1],
    ["jsno", "json", 1],
    ["sesion", "session", 1],
    ["abc", "xyz", 3],
  ])("%s → %s: %i", (a, b, d) => expect(distance(a, b)).toBe(d));

  it("offers the nearest names only, and nothing for a word far from all", () => {
    expect(suggest("gte", ["get", "headers", "set"])).toEqual(["get"]);
    expect(suggest("--jsno", ["--json", "--verbose"])).toEqual(["--json"]);
    expect(suggest("zzz", ["get", "headers", "set"])).toEqual([]);
    expect(suggest("ses", ["session", "set"])).toEqual(["session"]);
  });
});

describe("checkArgs", () => {
  it.each([
    ["flags and their values", runner, ["--name", "w1", "--quiet", "--", "sh", "-c", "true"]],
    ["--flag=value", runner, ["--name=w1", "--", "x"]],
    ["--no- form of a boolean", runner, ["--no-quiet", "--", "x"]],
    ["a choice", shell, ["zsh", "--json"]],
    ["an enum value", preset, ["--preset", "claude-code"]],
    ["an enum value after =", preset, ["--preset=claude-code"]],
  ])("accepts %s", (_, n, args) => expect(failure(() => checkArgs(n, args))).toBe("no error"));

  it.each([
    ["an unknown flag, with a suggestion", shell, ["bash", "--jsno"], 'Unknown flag --jsno for tokenctl x. Did you mean "--json"? | See the flags: tokenctl x --help'],
    ["an extra argument", shell, ["bash", "zsh"], 'Unexpected argument "zsh" for tokenctl x (usage: tokenctl x [OPTIONS] <bash|zsh|fish>) | tokenctl x --help'],
    ["a missing argument", shell, ["--json"], "Missing <bash|zsh|fish> for tokenctl x (usage: tokenctl x [OPTIONS] <bash|zsh|fish>) | tokenctl x --help"],
    ["a wrong choice", shell, ["bahs"], 'Unknown shell "bahs" for tokenctl x; choose one of: bash, zsh, fish. Did you mean "bash"? | tokenctl x --help'],
    ["an unknown enum value", preset, ["--preset", "claude"], 'Unknown value "claude" for --preset of tokenctl x; choose one of: claude-code. Did you mean "claude-code"? | tokenctl x --help'],
    ["an enum flag without its value", preset, ["--preset"], "--preset needs a value for tokenctl x: one of claude-code | tokenctl x --help"],
    [
      "a command without --",
      runner,
      ["--name", "w1", "sh", "-c", "echo hi"],
      `tokenctl x takes the command to run after --, found "sh" before it | Put -- before the command to run: tokenctl x --name w1 -- sh -c 'echo hi'`,
    ],
  ])("refuses %s", (_, n, args, want) => expect(failure(() => checkArgs(n, args))).toBe(want));

  it("an unknown command names the group and the nearest command", () => {
    const group: CommandNode = { ...leaf({}), children: [leaf({}), { ...leaf({}), path: ["x", "get"] }] };
    expect(unknownCommand(group, "gte").message).toBe('Unknown command "gte" for tokenctl x. Did you mean "get"?');
  });
});

/**
 * The runtime edge: no file in src/ outside src/runtime/ uses a Bun- or Deno-only API (`Bun.*`,
 * `bun:*`, `Deno.*`); they go through src/runtime/, picked by feature detection.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");

/** Source with comments removed (block comments, and line comments not after a `:` as in URLs). */
export function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

const USES: [string, RegExp][] = [
  ["Bun.*", /\bBun\s*(?:\.|\?\.|\[)/],
  ["globalThis.Bun", /\bglobalThis\s*(?:\.|\?\.)\s*Bun\b/],
  ["bun:*", /["'`]bun:[a-z]/],
  ["Deno.*", /\bDeno\s*(?:\.|\?\.|\[)/],
];

/** The runtime-specific APIs `source` uses, one entry per kind, with its first line number. */
export function runtimeUses(source: string): string[] {
  const code = stripComments(source);
  const found: string[] = [];
  for (const [name, re] of USES) {
    const m = re.exec(code);
    if (m) found.push(`${name} (line ${code.slice(0, m.index).split("\n").length})`);
  }
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

describe("the scanner", () => {
  test.each([
    ["await Bun.sleep(5)", ["Bun.* (line 1)"]],
    ['import { dlopen } from "bun:ffi";', ["bun:* (line 1)"]],
    ['const f = await import("bun:ffi")', ["bun:* (line 1)"]],
    ["x\nconst s = Bun?.secrets", ["Bun.* (line 2)"]],
    ["globalThis.Bun", ["globalThis.Bun (line 1)"]],
    ["Deno.openSync(p)", ["Deno.* (line 1)"]],
    ["// Bun.sleep is not used here\n/* nor bun:ffi */ const url = 'https://x//y'", []],
    ["const name = 'Bunny'; // see https://bun.sh", []],
  ])("%p", (source, expected) => {
    expect(runtimeUses(source)).toEqual(expected);
  });
});

describe("src/ outside src/runtime/", () => {
  const files = sources(join(root, "src"))
    .map((p) => relative(root, p))
    .filter((p) => !p.startsWith("src/runtime/"));

  test("uses no Bun- or Deno-only API", () => {
    const offenders = files
      .map((f) => ({ file: f, uses: runtimeUses(readFileSync(join(root, f), "utf8")) }))
      .filter((o) => o.uses.length > 0);
    expect(offenders).toEqual([]);
  });
});

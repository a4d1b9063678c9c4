/**
 * docs/reference/ is generated from the command tree (scripts/gen-reference.ts); it fails here when
 * a command's flags, description, environment or examples changed without regenerating it.
 */
import { describe, expect, it } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { flatten, REFERENCE_DIR, REGENERATE, renderCommand, renderReference, walk } from "../../scripts/gen-reference.ts";

const pages = await renderReference();

describe("docs/reference/", () => {
  it("has exactly the pages the generator writes", () => {
    const onDisk = existsSync(REFERENCE_DIR) ? readdirSync(REFERENCE_DIR).filter((f) => f.endsWith(".md")).sort() : [];
    expect({ pages: onDisk, fix: `run \`${REGENERATE}\`` }).toEqual({ pages: [...pages.keys()].sort(), fix: `run \`${REGENERATE}\`` });
  });

  it.each([...pages.keys()])("%s is up to date", (file) => {
    const path = join(REFERENCE_DIR, file);
    const onDisk = existsSync(path) ? readFileSync(path, "utf8") : "";
    if (onDisk !== pages.get(file)) throw new Error(`docs/reference/${file} is stale: regenerate it with \`${REGENERATE}\` and commit the result`);
  });

  it("names every command, flag and example of the tree", async () => {
    const text = [...pages.values()].join("\n");
    for (const n of flatten(await walk())) {
      expect(text).toContain(`tokenctl ${n.path.join(" ")}`.trim());
      for (const [k, d] of Object.entries(n.args)) expect(text).toContain(d.type === "positional" ? (n.meta.choices?.[k]?.join("\\|") ?? `\`${k.toUpperCase()}\``) : d.type === "boolean" && d.default === true ? `--no-${k}` : `--${k}`);
      if (n.meta.operands) expect(text).toContain(n.meta.operands);
      for (const e of n.meta.examples ?? []) expect(text).toContain(e);
    }
  });
});

describe("renderCommand", () => {
  it("renders a command's purpose, usage, flags with defaults, environment and examples", () => {
    const text = renderCommand({
      path: ["x", "y"],
      meta: { description: "Do y", env: ["FOO — the foo"], examples: ["tokenctl x y --n 2"] },
      args: {
        name: { type: "positional", required: true, description: "What to do" },
        n: { type: "string", valueHint: "count", default: "1", description: "How often | twice" },
        quiet: { type: "boolean", alias: "q", description: "Say less" },
      },
      children: [],
    });
    expect(text).toBe(
      [
        "## tokenctl x y",
        "",
        "Do y",
        "",
        "```",
        "tokenctl x y [OPTIONS] NAME",
        "```",
        "",
        "| argument | meaning |",
        "| --- | --- |",
        "| `NAME` | What to do (required) |",
        "",
        "| flag | meaning |",
        "| --- | --- |",
        "| `--n <count>` | How often \\| twice (default 1) |",
        "| `-q`, `--quiet` | Say less |",
        "",
        "Environment:",
        "",
        "- `FOO`: the foo",
        "",
        "Examples:",
        "",
        "```sh",
        "tokenctl x y --n 2",
        "```",
        "",
      ].join("\n"),
    );
  });
});

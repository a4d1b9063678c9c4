/**
 * Shell examples teach idioms that stop a script when tokenctl fails: no `export NAME=$(…)` in the
 * docs or in any command's help EXAMPLES, and the token-reader examples marked ```sh run really
 * stop under `sh -e` when there is no token (tokenctl from the source here; test/smoke/docs.test.ts
 * runs the same examples through the compiled binary).
 */
import { describe, expect, it } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { flatten, walk } from "../../scripts/gen-reference.ts";
import { tempDir } from "../support/tmp.ts";
import { ROOT } from "./markdown.ts";
import { maskedStatus, runnableBlocks, runSh, sandbox, shellBlocks } from "./shell.ts";

describe("the idiom check", () => {
  it.each([
    ["export API_TOKEN=$(tokenctl token get) || exit", true],
    ['export API_TOKEN="$(tokenctl token get)"', true],
    ["  $ export A=1 B=$(x)", false], // only the first assignment is checked; documented examples use one
    ["readonly T=$(tokenctl oauth token)", true],
    ["local t=`tokenctl token get`", true],
    ["if true; then export X=$(cmd); fi", true],
    ["API_TOKEN=$(tokenctl token get) || exit", false],
    ["export API_TOKEN", false],
    ["export VAULT_ADDR=https://vault.example.com:8200", false],
    ['eval "$(tokenctl session mint)"', false],
    ["# why export NAME=$(…) is wrong", true],
  ])("%s → flagged: %p", (line, flagged) => {
    expect(maskedStatus(line) !== undefined).toBe(flagged);
  });
});

describe("shell examples in README.md and docs/", () => {
  const blocks = shellBlocks();

  it("finds the examples (README and the area pages have some)", () => {
    const files = new Set(blocks.map((b) => b.file));
    for (const f of ["README.md", "docs/token.md", "docs/sessions.md", "docs/vault.md"]) expect(files).toContain(f);
  });

  it("never use `export NAME=$(…)`, which hides the command's failure", () => {
    const found = blocks.flatMap((b) =>
      b.code.split("\n").flatMap((line, i) => {
        const problem = maskedStatus(line);
        return problem ? [`${b.file}:${b.line + 1 + i}: ${line.trim()}: ${problem}`] : [];
      }),
    );
    expect(found).toEqual([]);
  });
});

describe("help EXAMPLES of every command", () => {
  it("never use `export NAME=$(…)`", async () => {
    const found = flatten(await walk()).flatMap((n) =>
      (n.meta.examples ?? []).flatMap((e) => (maskedStatus(e) ? [`tokenctl ${n.path.join(" ")}: ${e}`] : [])),
    );
    expect(found).toEqual([]);
  });
});

// tokenctl from the source: the binary is built later in `npm test`.
const FROM_SOURCE = `"${process.execPath}" "${join(ROOT, "src", "bin.ts")}"`;

describe("token-reader examples run under sh -e (from the source)", () => {
  const runnable = runnableBlocks();

  it("there are some (README's walk-through and docs/token.md)", () => {
    const files = runnable.map((b) => b.file);
    expect(files).toContain("README.md");
    expect(files).toContain("docs/token.md");
  });

  it.each(runnable.map((b) => [`${b.file}:${b.line}`, b] as const))("%s: works with a token, stops without one", (_, block) => {
    const box = sandbox(tempDir("tokenctl-docs-"), FROM_SOURCE);
    const token = `doc-${randomBytes(12).toString("hex")}`;

    const ok = runSh(box, block.code, { TOKENCTL_TOKEN: token });
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: "" });
    const calls = box.curlCalls();
    if (block.code.includes("curl")) {
      expect(calls.length).toBe(1);
      expect(calls[0]!.argv.join(" ")).not.toContain(token); // the token never goes through argv
      if (block.code.includes("token headers")) expect(calls[0]!.stdin).toContain(`Authorization: Bearer ${token}`);
    }

    const none = runSh(box, block.code);
    expect(none.code).toBe(3);
    expect(box.curlCalls().length).toBe(calls.length); // no request went out without a token
  });

  it("the idiom the check forbids really does carry on without a token", () => {
    const box = sandbox(tempDir("tokenctl-docs-"), FROM_SOURCE);
    const r = runSh(box, "export API_TOKEN=$(tokenctl token get) || exit\ncurl -sS https://api.example.com/v1/me\n");
    expect(r.code).toBe(0);
    expect(box.curlCalls().length).toBe(1);
  });
});

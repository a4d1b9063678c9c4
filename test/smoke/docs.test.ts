/** The docs' token-reader examples (```sh run blocks) under `sh -e` with the compiled binary on PATH. */
import { describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { BIN } from "../support/bin.ts";
import { tempDir } from "../support/tmp.ts";
import { runnableBlocks, runSh, sandbox } from "../docs/shell.ts";

describe("docs examples through dist/tokenctl", () => {
  it("the binary is built", () => expect(existsSync(BIN)).toBe(true));

  it.each(runnableBlocks().map((b) => [`${b.file}:${b.line}`, b] as const))("%s: works with a token, stops without one", (_, block) => {
    const box = sandbox(tempDir("tokenctl-docs-"), `"${BIN}"`);
    const token = `doc-${randomBytes(12).toString("hex")}`;
    const ok = runSh(box, block.code, { TOKENCTL_TOKEN: token });
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: "" });
    const sent = box.curlCalls();
    for (const call of sent) expect(call.argv.join(" ")).not.toContain(token);
    if (block.code.includes("token headers")) expect(sent[0]?.stdin).toContain(`Authorization: Bearer ${token}`);

    const none = runSh(box, block.code);
    expect(none.code).toBe(3);
    expect(none.stdout).toBe("");
    expect(box.curlCalls().length).toBe(sent.length);
  });
});

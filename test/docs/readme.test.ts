/**
 * README.md stays the entry point (short, with the quick start), and the facts said once stay
 * once: the exit-code table only in the README, user-facing pages never speak of how tokenctl was
 * built.
 */
import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { markdownFiles, ROOT } from "./markdown.ts";

const read = (f: string) => readFileSync(join(ROOT, f), "utf8");
const readme = read("README.md");

describe("README.md", () => {
  it("fits a sitting: at most 12 KiB", () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
  });

  it("keeps the two quick-start commands", () => {
    expect(readme).toContain("npm install && npm start");
    expect(readme).toMatch(/^npm test\b/m);
  });
});

describe("each fact in one place", () => {
  const pages = markdownFiles();

  it("the exit-code table is in README.md only", () => {
    const withTable = pages.filter((f) => /^\| 3 \| nothing found/m.test(read(f)));
    expect(withTable).toEqual(["README.md"]);
  });

  it("the environment table is in docs/environment.md only", () => {
    const withTable = pages.filter((f) => /^\| `TOKENCTL_TOKEN_FD` \|/m.test(read(f)));
    expect(withTable).toEqual(["docs/environment.md"]);
  });

  it("user-facing pages describe the tool, not how it was built", () => {
    const found = pages.flatMap((f) =>
      read(f)
        .split("\n")
        .flatMap((line, i) => (/\b(issue|PR|pull request) #?\d+|\bthe (issue|reviewer)\b/i.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(found).toEqual([]);
  });
});

/**
 * No link or path to a doc that does not exist: every relative link in README.md, CONTRIBUTING.md
 * and docs/**\/*.md resolves (file and #anchor), and every docs/… path named in src/, scripts/ and
 * test/ exists.
 */
import { describe, expect, it } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { anchor } from "../../scripts/gen-reference.ts";
import { markdownFiles, prose, ROOT } from "./markdown.ts";

/**
 * Pages that other branches of this release add (library, platforms, install). Until they are
 * merged a link to them may dangle; remove this list once they exist.
 */
const PENDING = new Set(["docs/library.md", "docs/platforms.md", "docs/install.md"]);

const text = (file: string) => readFileSync(join(ROOT, file), "utf8");

/** GitHub's anchors for a Markdown file: one per heading (duplicates get -1, -2, …). */
export function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of prose(markdown).matchAll(/^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const visible = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/`([^`]*)`/g, "$1");
    const slug = anchor(visible);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

/** Inline links `[text](target)` outside code, with their line numbers. */
export function links(markdown: string): Array<{ line: number; target: string }> {
  const out: Array<{ line: number; target: string }> = [];
  // Blank out fenced blocks line for line (keeps line numbers) and code spans (keeps their text out).
  const lines = markdown.split("\n");
  let fence: string | undefined;
  lines.forEach((raw, i) => {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(raw)?.[1];
    if (fence) {
      if (f && f[0] === fence[0] && f.length >= fence.length) fence = undefined;
      return;
    }
    if (f) return void (fence = f);
    const line = raw.replace(/`[^`]*`/g, "code");
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line: i + 1, target: m[1]! });
  });
  return out;
}

/** The problem with one relative link from `file`, or undefined when it resolves. */
function checkLink(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto:
  const [path = "", hash] = target.split("#", 2);
  const resolved = path ? normalize(join(dirname(file), decodeURIComponent(path))) : file;
  if (relative(ROOT, join(ROOT, resolved)).startsWith("..")) return `${target}: points outside the repository`;
  if (!existsSync(join(ROOT, resolved))) return PENDING.has(resolved) ? undefined : `${target}: ${resolved} does not exist`;
  if (hash === undefined) return undefined;
  if (statSync(join(ROOT, resolved)).isDirectory() || !resolved.endsWith(".md")) return `${target}: an #anchor needs a Markdown file`;
  return anchors(text(resolved)).has(hash) ? undefined : `${target}: ${resolved} has no heading with anchor #${hash}`;
}

describe("relative links in README.md, CONTRIBUTING.md and docs/", () => {
  const files = markdownFiles();

  it("covers the entry points and the reference", () => {
    for (const f of ["README.md", "CONTRIBUTING.md", "docs/token.md", "docs/protocol.md", "docs/reference/README.md"]) expect(files).toContain(f);
  });

  it.each(files)("%s: every link resolves, anchors included", (file) => {
    const broken = links(text(file)).flatMap(({ line, target }) => {
      const problem = checkLink(file, target);
      return problem ? [`${file}:${line}: ${problem}`] : [];
    });
    expect(broken).toEqual([]);
  });
});

/** Files under dir (recursively), skipping dependencies and build output. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (["node_modules", "dist"].includes(e.name) ? [] : sources(join(dir, e.name))) : [join(dir, e.name)],
  );
}

/** `docs/…` paths named in a text; not part of a longer path (test/docs/…) or word (api-docs/…). */
export function docPaths(source: string): string[] {
  return [...source.matchAll(/(?<![\w./-])docs\/[\w./*-]*/g)].map((m) => m[0].replace(/[.]+$/, ""));
}

function exists(path: string): boolean {
  if (!path.includes("*")) return existsSync(join(ROOT, path));
  const re = new RegExp(`^${path.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")}$`);
  return sources(dirname(path.split("*")[0]!.replace(/\/?$/, "/x"))).some((f) => re.test(f));
}

describe("docs/ paths named in src/, scripts/ and test/", () => {
  it("finds them (comments in src/ and the systemd unit name their pages)", () => {
    const named = ["src", "scripts"].flatMap((dir) => sources(dir).flatMap((f) => docPaths(text(f))));
    expect(named.length).toBeGreaterThan(0);
  });

  it("reads paths, not look-alikes", () => {
    expect(docPaths("see docs/vault.md (\"systemd\"). and docs/*.md, api-docs/auth, test/docs/x.ts")).toEqual(["docs/vault.md", "docs/*.md"]);
  });

  it("every one exists", () => {
    const missing = ["src", "scripts", "test"].flatMap((dir) =>
      sources(dir).flatMap((file) =>
        docPaths(text(file))
          .filter((p) => !exists(p) && !PENDING.has(p))
          .map((p) => `${file}: ${p}`),
      ),
    );
    expect(missing).toEqual([]);
  });
});

describe("the link checker", () => {
  it("sees a broken file, a broken anchor, and no link inside code", () => {
    const md = "# Top\n\n## A `b` c\n\n[ok](#a-b-c) [bad](#nope) `[x](nowhere.md)`\n\n```\n[y](nowhere.md)\n```\n[gone](nowhere.md)\n";
    expect(links(md).map((l) => l.target)).toEqual(["#a-b-c", "#nope", "nowhere.md"]);
    expect([...anchors(md)]).toEqual(["top", "a-b-c"]);
  });
});

/**
 * Run a fixture under Node, Deno and Bun: the fixture is bundled once with `bun build --target=node`
 * (the same kind of bundle the npm package ships) and started with each runtime's executable.
 * Deno comes from the `deno` npm package (node_modules/.bin/deno) or PATH; without it the tests
 * that need it are skipped with a visible reason.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");

/** The deno executable, if any. */
export function denoPath(): string | undefined {
  const local = join(root, "node_modules/.bin/deno");
  if (existsSync(local)) return local;
  return Bun.which("deno") ?? undefined;
}

/** The node executable, if any (Node ≥ 20). */
export function nodePath(): string | undefined {
  return Bun.which("node") ?? undefined;
}

const bundles = new Map<string, string>();

/** Bundle `fixture` (a path under test/runtime/fixtures) for Node; cached per test run. */
export async function bundle(fixture: string): Promise<string> {
  const cached = bundles.get(fixture);
  if (cached) return cached;
  // Outlives one test (the bundle is shared by the file's tests); removed when the run ends.
  const outdir = mkdtempSync(join(tmpdir(), "tokenctl-bundle-"));
  process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
  const r = await Bun.build({ entrypoints: [join(import.meta.dir, "fixtures", fixture)], target: "node", outdir, format: "esm" });
  if (!r.success) throw new Error(`bundling ${fixture} failed: ${r.logs.join("\n")}`);
  const out = r.outputs[0]!.path;
  bundles.set(fixture, out);
  return out;
}

export type Runtime = "bun" | "node" | "deno";

/** argv to run a bundled script under `runtime`, or undefined when that runtime is not installed. */
export function command(runtime: Runtime, script: string): string[] | undefined {
  if (runtime === "bun") return [process.execPath, script];
  if (runtime === "node") {
    const node = nodePath();
    return node ? [node, script] : undefined;
  }
  const deno = denoPath();
  return deno ? [deno, "run", "-A", "--quiet", script] : undefined;
}

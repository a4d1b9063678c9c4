/**
 * Build the npm package's files in dist/npm (`bun scripts/build.ts --npm`, run by `npm pack`'s
 * prepack): the CLI (bin.js) and the library (index.js) as ES modules for Node >= 20.12 and
 * Deno >= 2, their dependencies bundled in, lazily loaded parts in chunks/, and the library's type
 * declarations in types/ (tsc, tsconfig.npm.json).
 *
 * The shebang is added here, never in src/bin.ts: Bun's --target=node has emitted a module whose
 * source carries one twice, which gives the CLI two TokenctlError classes, so `instanceof` fails
 * and every exit code turns into 1. test/portability checks the built output for both.
 */
import { $ } from "bun";
import { defineArgs, expectedVersionLine, gitCommit } from "./build-info.ts";

const out = "dist/npm";
// `--version` says `0.1.0 (commit <12 hex>, npm)`: one build for every platform Node and Deno run on.
const info = { commit: gitCommit(), target: "npm" };
await $`rm -rf ${out}`;
await $`${process.execPath} build src/bin.ts src/index.ts ${defineArgs(info)} --target=node --format=esm --splitting --minify-syntax --minify-whitespace --sourcemap=none --outdir ${out} --chunk-naming ${"chunks/[name]-[hash].[ext]"}`.quiet();
const bin = `${out}/bin.js`;
await Bun.write(bin, `#!/usr/bin/env node\n${await Bun.file(bin).text()}`);
await $`chmod 755 ${bin}`;
await $`${process.execPath} x tsc -p tsconfig.npm.json`;
// Run it once, as the binary's build does, where there is a node to run it with.
const node = Bun.which("node");
if (node) {
  const version = (await $`${node} ${bin} --version`.text()).trim();
  if (version !== expectedVersionLine(info)) {
    console.error(`build check failed: node ${bin} --version printed "${version}", expected "${expectedVersionLine(info)}"`);
    process.exit(1);
  }
}
console.error(`built ${out} (bin.js, index.js, types/)${node ? "" : "; not run: no node on PATH"}`);

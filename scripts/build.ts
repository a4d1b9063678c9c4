/**
 * Build the standalone executable dist/tokenctl; with --npm, the npm package's files in dist/npm.
 * --splitting keeps lazily imported commands out of the start-up path (~1.5 ms of `token get`).
 * --bytecode needs --format=esm: without it Bun warns "Failed to generate bytecode" and writes a
 * binary that dies with "import.meta is only valid inside modules". We run the result once to check.
 */
import { $ } from "bun";

const pkg = await Bun.file("package.json").json();

async function buildBinary(): Promise<void> {
  const out = "dist/tokenctl";
  await $`${process.execPath} build src/bin.ts --compile --minify --bytecode --format=esm --splitting --sourcemap=none --outfile ${out}`;
  const version = (await $`./${out} --version`.text()).trim();
  if (version !== pkg.version) {
    console.error(`build check failed: ${out} --version printed "${version}", expected "${pkg.version}"`);
    process.exit(1);
  }
  console.error(`built ${out} (${version}, ${((await Bun.file(out).size) / 1048576).toFixed(1)} MiB)`);
}

/**
 * dist/npm: the CLI (bin.js) and the library (index.js) as ES modules for Node >= 20 and Deno >= 2,
 * their dependencies bundled in, lazily loaded parts in chunks/, and the library's type
 * declarations in types/ (tsc, tsconfig.npm.json). The shebang is added here, never in src/bin.ts:
 * Bun's --target=node emits a module whose source carries one twice, so the CLI would get two
 * TokenctlError classes and every exit code would turn into 1 (test/portability checks the output).
 */
async function buildNpm(): Promise<void> {
  const out = "dist/npm";
  await $`rm -rf ${out}`;
  await $`${process.execPath} build src/bin.ts src/index.ts --target=node --format=esm --splitting --minify-syntax --minify-whitespace --sourcemap=none --outdir ${out} --chunk-naming ${"chunks/[name]-[hash].[ext]"}`.quiet();
  const bin = `${out}/bin.js`;
  await Bun.write(bin, `#!/usr/bin/env node\n${await Bun.file(bin).text()}`);
  await $`chmod 755 ${bin}`;
  await $`${process.execPath} x tsc -p tsconfig.npm.json`;
  const node = Bun.which("node");
  if (node) {
    const version = (await $`${node} ${bin} --version`.text()).trim().split(/\s/)[0];
    if (version !== pkg.version) {
      console.error(`build check failed: node ${bin} --version printed "${version}", expected "${pkg.version}"`);
      process.exit(1);
    }
  }
  console.error(`built ${out} (bin.js, index.js, types/)${node ? "" : "; not run: no node on PATH"}`);
}

if (process.argv.includes("--npm")) await buildNpm();
else await buildBinary();

/**
 * Build the standalone executable dist/tokenctl.
 * --splitting keeps lazily imported commands out of the start-up path (~1.5 ms of `token get`).
 * --bytecode needs --format=esm: without it Bun warns "Failed to generate bytecode" and writes a
 * binary that dies with "import.meta is only valid inside modules". We run the result once to check.
 */
// `--npm`: the npm package's files in dist/npm instead (scripts/build-npm.ts).
if (process.argv.includes("--npm")) {
  await import("./build-npm.ts");
  process.exit(0);
}
import { $ } from "bun";
import { COMPILE_FLAGS, defineArgs, expectedVersionLine, gitCommit, hostTarget } from "./build-info.ts";

const out = "dist/tokenctl";
const info = { commit: gitCommit(), target: hostTarget() };
await $`${process.execPath} build src/bin.ts ${defineArgs(info)} ${COMPILE_FLAGS} --outfile ${out}`;
const version = (await $`./${out} --version`.text()).trim();
if (version !== expectedVersionLine(info)) {
  console.error(`build check failed: ${out} --version printed "${version}", expected "${expectedVersionLine(info)}"`);
  process.exit(1);
}
console.error(`built ${out} (${version}, ${((await Bun.file(out).size) / 1048576).toFixed(1)} MiB)`);

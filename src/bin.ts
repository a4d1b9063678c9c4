/**
 * The CLI's entry, for the compiled binary and the npm package alike. src/main.ts only exports
 * run(): an `import.meta.main` check there is undefined on Node 20, and in a bundle it is the
 * bundle's, which would run the CLI from inside the library. The build adds the shebang to the
 * output: Bun's `--target=node` emits a module whose source carries one twice (two TokenctlError
 * classes, so `instanceof` fails and every exit code turns into 1).
 */
import { run } from "./main.ts";

const code = await run(process.argv.slice(2));
// Writes to a pipe are asynchronous under Node outside Linux: let them reach the reader first.
for (const stream of [process.stdout, process.stderr]) {
  if (stream.writableLength > 0 && !stream.destroyed)
    await new Promise((resolve) => {
      // A reader that went away (EPIPE) closes the stream instead of draining it.
      for (const event of ["drain", "close", "error"]) stream.once(event, resolve);
    });
}
process.exit(code);

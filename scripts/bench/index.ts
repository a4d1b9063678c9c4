/** Run every benchmark in this folder in turn (`npm run bench`). */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
for (const f of readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.startsWith("_") && f !== "index.ts").sort()) {
  console.log(`\n## ${f}\n`);
  const r = Bun.spawnSync([process.execPath, join(dir, f)], { stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) console.log(`(${f} exited ${r.exitCode})`);
}

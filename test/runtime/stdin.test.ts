import { expect, test } from "bun:test";
import { Readable } from "node:stream";
import { readStdinText } from "../../src/runtime/stdin.ts";

test("reads every chunk, and a UTF-8 character split across chunks comes out whole", async () => {
  const bytes = Buffer.from('{"k":"é✓"}\n');
  const parts = [bytes.subarray(0, 7), bytes.subarray(7, 8), bytes.subarray(8)];
  expect(await readStdinText(Readable.from(parts))).toBe('{"k":"é✓"}\n');
});

test("empty input is the empty string", async () => {
  expect(await readStdinText(Readable.from([]))).toBe("");
});

test("reads this process's real stdin (a child with a pipe)", async () => {
  const p = Bun.spawn([process.execPath, "-e", `import("${import.meta.dir}/../../src/runtime/stdin.ts").then(async (m) => process.stdout.write(JSON.stringify(await m.readStdinText())))`], { stdin: "pipe", stdout: "pipe" });
  p.stdin.write("line one\nline two");
  p.stdin.end();
  expect(await new Response(p.stdout).text()).toBe(JSON.stringify("line one\nline two"));
});

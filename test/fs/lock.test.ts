import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { lock, tryLock } from "../../src/fs/lock.ts";
import { tempDir } from "../support/tmp.ts";
import { bundle, command, type Runtime } from "../runtime/runtimes.ts";

test("a second open file description cannot take a held lock; release frees it", () => {
  const p = join(tempDir(), "l.lock");
  const a = tryLock(p);
  expect(a).toBeDefined();
  expect(tryLock(p)).toBeUndefined();
  a!.release();
  a!.release(); // idempotent
  const c = tryLock(p);
  expect(c).toBeDefined();
  c!.release();
});

test("flock(1) in a shell script excludes us, and we exclude it", async () => {
  const p = join(tempDir(), "l.lock");
  const holder = Bun.spawn(["flock", "-o", p, "sh", "-c", "echo held; exec sleep 5"], { stdout: "pipe" });
  const reader = holder.stdout.getReader();
  await reader.read(); // "held": flock(1) has the lock
  expect(tryLock(p)).toBeUndefined();
  // -o: only flock(1) itself holds the lock fd, so killing it is killing the holder.
  holder.kill("SIGKILL");
  await holder.exited;
  const mine = tryLock(p);
  expect(mine).toBeDefined(); // the kernel dropped the dead holder's lock: no stale lock
  const probe = Bun.spawnSync(["flock", "-n", p, "true"]);
  expect(probe.exitCode).toBe(1);
  mine!.release();
  expect(Bun.spawnSync(["flock", "-n", p, "true"]).exitCode).toBe(0);
});

test("lock() waits for the holder, and times out with a clear message", async () => {
  const p = join(tempDir(), "l.lock");
  const held = tryLock(p)!;
  setTimeout(() => held.release(), 50);
  const got = await lock(p, 2000);
  expect(got.path).toBe(p);
  await expect(lock(p, 30)).rejects.toThrow(/Timed out after 30 ms/);
  got.release();
});

// Every runtime takes the same flock(2), so each excludes the others (the npm bundle under Node
// and Deno beside the binary). Each holder runs in its own process, built as the npm bundle is.
describe("across runtimes", () => {
  const runtimes: Runtime[] = ["bun", "node", "deno"];
  let script: string;
  beforeAll(async () => {
    script = await bundle("lock-holder.ts");
  });

  async function start(runtime: Runtime, args: string[]) {
    const argv = command(runtime, script)!;
    const proc = Bun.spawn([...argv, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const reader = proc.stdout.getReader();
    let buf = "";
    const line = async () => {
      while (!buf.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${runtime} ended early: ${await new Response(proc.stderr).text()}`);
        buf += new TextDecoder().decode(value);
      }
      const i = buf.indexOf("\n");
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      return JSON.parse(l) as { runtime?: string; state?: string; fd?: number; error?: string };
    };
    return { proc, line, stop: async () => (proc.stdin.end(), await line(), await proc.exited) };
  }

  for (const holder of runtimes)
    for (const other of runtimes) {
      if (holder === other) continue;
      const missing = [holder, other].filter((r) => !command(r, "x"));
      const name = `a lock held under ${holder} excludes ${other}, and is free to it once released`;
      if (missing.length) {
        console.warn(`warning: ${missing.join(", ")} not installed; skipping: ${name}`);
        test.skip(`${name} [SKIPPED: ${missing.join(", ")} not installed]`, () => {});
        continue;
      }
      test(name, async () => {
        const p = join(tempDir(), "x.lock");
        const h = await start(holder, ["try", p]);
        const first = await h.line();
        expect(first).toMatchObject({ runtime: holder, state: "held" });
        expect(first.fd).toBeGreaterThan(2);
        const o = await start(other, ["try", p]);
        expect(await o.line()).toMatchObject({ runtime: other, state: "busy" });
        await o.proc.exited;
        await h.stop();
        const again = await start(other, ["try", p]);
        expect(await again.line()).toMatchObject({ runtime: other, state: "held" });
        await again.stop();
      }, 20_000);
    }

  test.if(!!command("node", "x"))("under Node, lock() waits in flock(1) for a Bun holder and times out with the usual error", async () => {
    const p = join(tempDir(), "x.lock");
    const held = tryLock(p)!;
    const waiter = await start("node", ["wait", p, "3000"]);
    await Bun.sleep(150);
    held.release();
    expect(await waiter.line()).toMatchObject({ runtime: "node", state: "held" });
    await waiter.stop();
    const again = tryLock(p)!;
    const late = await start("node", ["wait", p, "100"]);
    expect(await late.line()).toMatchObject({ runtime: "node", error: "TokenctlError" });
    again.release();
  }, 20_000);
});

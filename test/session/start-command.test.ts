/** startCommandChecked: the one spawn + signal forwarding + 128+n used by `exec` and `session exec`. */
import { expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import { UsageError } from "../../src/errors.ts";
import { startCommandChecked } from "../../src/session/exec.ts";

test("a command that does not exist is a usage error (exit 2), and nothing is left listening", async () => {
  const signals = new EventEmitter();
  const p = startCommandChecked({ argv: ["tokenctl-no-such-command"], env: { PATH: process.env.PATH }, stdio: "ignore", signals: signals as never });
  await expect(p).rejects.toBeInstanceOf(UsageError);
  await expect(p).rejects.toThrow(/command not found/);
  expect(signals.listenerCount("SIGTERM")).toBe(0);
});

test("exits as the command did; a forwarded signal it does not handle gives 128+n", async () => {
  const signals = new EventEmitter();
  const seven = await startCommandChecked({ argv: ["sh", "-c", "exit 7"], env: { PATH: process.env.PATH }, stdio: "ignore", signals: signals as never });
  expect(await seven.exited).toEqual({ code: 7 });
  const sleeper = await startCommandChecked({ argv: ["sleep", "5"], env: { PATH: process.env.PATH }, stdio: "ignore", signals: signals as never });
  signals.emit("SIGHUP");
  expect(await sleeper.exited).toEqual({ code: 129, signal: "SIGHUP" });
  expect(signals.listenerCount("SIGHUP")).toBe(0);
});

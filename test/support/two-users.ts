/**
 * Two real users for the trust tests: the tests run as root in CI, and the attacker is uid 65534
 * (nobody) through setpriv(1) from util-linux. Off root, the tests skip with a visible message.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const ATTACKER_UID = 65534;

/** Why the two-user tests cannot run here, or undefined when they can. */
export function twoUserSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: the two-user trust tests need root to act as uid 65534 (CI runs them as root)";
  if (spawnSync("setpriv", ["--version"]).status !== 0) return "setpriv (util-linux) is missing";
  return undefined;
}

/** Announce a skip on stderr so it is seen in the run's output, not just counted. */
export function announceSkip(file: string): void {
  const reason = twoUserSkipReason();
  if (reason) process.stderr.write(`SKIPPED ${file}: ${reason}\n`);
}

/** A directory owned by the attacker (mode 0755) inside `parent`, which is made traversable. */
export function attackerDir(parent: string, name = "evil", mode = 0o755): string {
  chmodSync(parent, 0o755);
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  chownSync(dir, ATTACKER_UID, ATTACKER_UID);
  chmodSync(dir, mode);
  return dir;
}

export interface FakeDaemon {
  proc: ChildProcess;
  socketPath: string;
  /** Everything the fake daemon has received so far. */
  received(): string;
  stop(): void;
}

/** Start test/support/fake-daemon.ts as uid 65534 listening on `socketPath` (in a dir it can write). */
export async function startFakeDaemon(socketPath: string, dir: string): Promise<FakeDaemon> {
  const bun = process.execPath;
  const script = join(import.meta.dir, "fake-daemon.ts");
  const receivedFile = join(dir, "received");
  const proc = spawn(
    "setpriv",
    [`--reuid=${ATTACKER_UID}`, `--regid=${ATTACKER_UID}`, "--clear-groups", bun, script, socketPath, receivedFile],
    { env: { PATH: process.env.PATH, HOME: dir, TMPDIR: dir, BUN_INSTALL_CACHE_DIR: join(dir, "cache") }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  proc.stderr!.on("data", (d) => (err += String(d)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fake daemon did not start: ${err}`)), 10_000);
    proc.stdout!.on("data", (d) => {
      if (String(d).includes("ready")) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.on("exit", (code) => reject(new Error(`fake daemon exited ${code}: ${err}`)));
  });
  return {
    proc,
    socketPath,
    received: () => readFileSync(receivedFile, "utf8"),
    stop: () => void proc.kill(),
  };
}

/** The access token the fake daemon hands out; it must never reach a caller's output. */
export const FAKE_TOKEN = "fake-daemon-chose-this-token";

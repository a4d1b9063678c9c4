/** Peer credentials: SO_PEERCRED through bun:ffi, and the daemon refusing a foreign uid. */
import { afterEach, expect, it } from "bun:test";
import { chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { peerCredentialsSupported, peerUid } from "../../src/runtime/peercred.ts";
import { startDaemon, type DaemonHandle } from "../../src/daemon/server.ts";
import { tempDir } from "../support/tmp.ts";

const running: DaemonHandle[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop();
});

const linux = process.platform === "linux";

it.if(linux)("reads our own uid from a connected socket's fd", async () => {
  expect(peerCredentialsSupported()).toBe(true);
  const path = join(tempDir(), "p.sock");
  let seen: number | undefined = -1;
  const srv = Bun.listen({
    unix: path,
    socket: {
      open(s) {
        seen = peerUid((s as unknown as { fd: number }).fd);
      },
      data() {},
    },
  });
  try {
    const c = await Bun.connect({ unix: path, socket: { data() {} } });
    await Bun.sleep(30);
    c.end();
    expect(seen).toBe(process.getuid!());
  } finally {
    srv.stop(true);
  }
  expect(peerUid(-1)).toBeUndefined();
});

it("refuses a peer whose uid is neither ours nor root, before reading from it", async () => {
  const dir = join(tempDir(), "run");
  const warnings: string[] = [];
  const log = { info() {}, debug() {}, error() {}, warn: (m: unknown) => void warnings.push(String(m)) };
  // Pretend the peer is uid 4242 and we are uid 1000: the check itself is what is under test here.
  const d = await startDaemon({ socketPath: join(dir, "s.sock"), tokenFile: join(dir, "t"), log, uid: 1000, peerUid: () => 4242 });
  running.push(d);
  const { rawConnect } = await import("../support/peer.ts");
  const p = await rawConnect(d.socketPath);
  p.send({ type: "auth", token: d.token });
  await p.closed;
  expect(p.received).toEqual([]);
  expect(warnings.some((w) => w.includes("uid 4242"))).toBe(true);
  expect(d.stats().open).toBe(0);
});

// The real thing: a process running as another uid. Needs root (to switch uid) and setpriv.
const canSwitch = linux && process.getuid?.() === 0 && Bun.which("setpriv") !== null;
it.if(canSwitch)("refuses a real process running as another uid (setpriv)", async () => {
  const dir = join(tempDir(), "run");
  const d = await startDaemon({ socketPath: join(dir, "s.sock"), tokenFile: join(dir, "t") });
  running.push(d);
  // Let uid 4242 reach the socket at all; the 0700 dir and 0600 socket would otherwise stop it first.
  chmodSync(dirname(dirname(d.socketPath)), 0o711);
  chmodSync(dir, 0o711);
  chmodSync(d.socketPath, 0o666);
  const script = `
    const net = require("node:net");
    const s = net.connect(${JSON.stringify(d.socketPath)});
    let got = "";
    s.on("connect", () => s.write(JSON.stringify({ type: "auth", token: process.env.T }) + "\\n"));
    s.on("data", (b) => (got += b));
    s.on("close", () => { console.log(JSON.stringify({ got })); });
    s.on("error", (e) => { console.log(JSON.stringify({ error: e.code })); });
  `;
  const proc = Bun.spawn(["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups", process.execPath, "-e", script], {
    env: { PATH: process.env.PATH, T: d.token },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (!out.trim()) throw new Error(`child printed nothing; stderr: ${err}`);
  await proc.exited;
  // Closed (reset) without a byte: with the check off it would print the auth_result ok line.
  expect(out.trim().split("\n").at(-1), err).toBe(JSON.stringify({ got: "" }));
});

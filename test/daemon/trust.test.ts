/**
 * Clients verify the server before sending anything secret: a fake daemon run by another real
 * user (uid 65534) gets no token and none of its answers is used.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { chmodSync, linkSync, mkdirSync, chownSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { connectDaemon, UntrustedDaemonError } from "../../src/daemon/client.ts";
import { resolveDaemonPaths } from "../../src/daemon/paths.ts";
import { UnavailableError } from "../../src/errors.ts";
import { tempDir } from "../support/tmp.ts";
import { announceSkip, attackerDir, startFakeDaemon, twoUserSkipReason, type FakeDaemon } from "../support/two-users.ts";

const TOKEN = "a".repeat(64);
const fakes: FakeDaemon[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const f of fakes.splice(0)) f.stop();
  for (const s of servers.splice(0)) s.close();
});

announceSkip("test/daemon/trust.test.ts (two users)");
const twoUsers = twoUserSkipReason() === undefined;

describe.if(twoUsers)("a fake daemon run by another user", () => {
  it("behind TOKENCTL_SOCKET in a dir it owns: refused before connecting, exit 2, naming the socket and owner", async () => {
    const evil = attackerDir(tempDir());
    const fake = await startFakeDaemon(join(evil, "tokenctl.sock"), evil);
    fakes.push(fake);
    const err = await connectDaemon({ socketPath: fake.socketPath, token: TOKEN }).catch((e) => e);
    expect(err).toBeInstanceOf(UntrustedDaemonError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(evil);
    expect(err.message).toContain("uid 65534");
    expect(err.message).not.toContain(TOKEN);
    expect(fake.received()).toBe("");
  });

  it("its socket linked into a trusted dir and chowned to us: the peer uid gives it away, nothing is sent", async () => {
    const parent = tempDir();
    const evil = attackerDir(parent);
    const fake = await startFakeDaemon(join(evil, "tokenctl.sock"), evil);
    fakes.push(fake);
    const trusted = join(parent, "run");
    mkdirSync(trusted, { mode: 0o700 });
    const link = join(trusted, "tokenctl.sock");
    linkSync(fake.socketPath, link);
    chownSync(link, 0, 0); // same inode: the socket now looks root's, but uid 65534 still serves it
    const err = await connectDaemon({ socketPath: link, token: TOKEN }).catch((e) => e);
    expect(err).toBeInstanceOf(UntrustedDaemonError);
    expect(err.message).toContain("runs as uid 65534");
    await Bun.sleep(100);
    expect(fake.received()).toBe("");
  });

  it("in an XDG_RUNTIME_DIR it owns: the runtime dir is not used at all", async () => {
    const parent = tempDir();
    const run = attackerDir(parent, "run", 0o700);
    const paths = resolveDaemonPaths({}, { HOME: join(parent, "home"), XDG_RUNTIME_DIR: run });
    expect(paths.socketPath.startsWith(run)).toBe(false);
    expect(paths.runtimeWarning).toContain("owned by uid 65534");
  });
});

describe("path and handshake checks (any user)", () => {
  it("refuses a socket in a group/other-writable directory that is not sticky", async () => {
    const dir = join(tempDir(), "open");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const err = await connectDaemon({ socketPath: join(dir, "s.sock"), token: TOKEN }).catch((e) => e);
    expect(err).toBeInstanceOf(UntrustedDaemonError);
    expect(err.message).toContain(`directory ${dir} (mode 0777) is writable by others`);
  });

  it("treats a missing socket as no daemon (exit 5)", async () => {
    const err = await connectDaemon({ socketPath: join(tempDir(), "none.sock"), token: TOKEN }).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
  });

  it("an auth_result ok for a connection that offered no credential is an error", async () => {
    const dir = tempDir();
    const socketPath = join(dir, "s.sock");
    const got: string[] = [];
    const server = createServer((c) => c.on("data", (d) => (got.push(String(d)), c.write(`${JSON.stringify({ type: "auth_result", ok: true })}\n`))));
    servers.push(server);
    await new Promise<void>((r) => server.listen(socketPath, r));
    const err = await connectDaemon({ socketPath, tokenFile: join(dir, "missing", "daemon.token") }).catch((e) => e);
    expect(err).toBeInstanceOf(UntrustedDaemonError);
    expect(err.message).toContain("accepted a connection that offered no credential");
    expect(got.join("")).toBe('{"type":"auth"}\n');
  });

  it("still connects to a trusted same-user server that checks the token", async () => {
    const dir = tempDir();
    const socketPath = join(dir, "s.sock");
    writeFileSync(join(dir, "x"), "");
    const server = createServer((c) =>
      c.on("data", (d) => {
        const m = JSON.parse(String(d).trim());
        c.write(`${JSON.stringify(m.token === TOKEN ? { type: "auth_result", ok: true } : { type: "auth_result", ok: false, error: "Invalid token" })}\n`);
      }),
    );
    servers.push(server);
    await new Promise<void>((r) => server.listen(socketPath, r));
    const c = await connectDaemon({ socketPath, token: TOKEN });
    expect(c.authResult).toEqual({ type: "auth_result", ok: true });
    c.close();
  });
});

/**
 * A hostile "daemon" for the two-user tests, run as another uid (setpriv). It writes every byte it
 * receives to <dir>/received and answers every line as a too-friendly daemon would: auth accepted,
 * every request answered with a token of its choosing. Plain node:net, no project code.
 *
 * Usage: bun fake-daemon.ts SOCKET_PATH RECEIVED_FILE
 */
import { appendFileSync, chmodSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";

const [socketPath, receivedFile] = process.argv.slice(2) as [string, string];
const FAKE_TOKEN = "fake-daemon-chose-this-token";
writeFileSync(receivedFile, "");
try {
  unlinkSync(socketPath);
} catch {
  // first start
}
const server = createServer((c) => {
  let buf = "";
  c.on("data", (d: Buffer) => {
    appendFileSync(receivedFile, d);
    buf += d.toString("utf8");
    let i: number;
    while ((i = buf.indexOf("\n")) !== -1) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let m: Record<string, unknown> = {};
      try {
        m = JSON.parse(line);
      } catch {
        // answer anyway
      }
      const answer =
        m.type === "auth"
          ? { type: "auth_result", ok: true, session: { id: "s-fake", scope: "default", name: "fake" } }
          : { type: `${String(m.type)}.result`, id: m.id, ok: true, accessToken: FAKE_TOKEN, token: FAKE_TOKEN, expiresAt: Date.now() + 3_600_000, session: { id: "s-fake", scope: "default" } };
      c.write(`${JSON.stringify(answer)}\n`);
    }
  });
  c.on("error", () => {});
});
server.listen(socketPath, () => {
  chmodSync(socketPath, 0o777);
  process.stdout.write("ready\n");
});

/** Run `dist/tokenctl oauth login --no-browser`, and play the user through oidc-provider's pages. */
import { BIN, childEnv } from "./bin.ts";
import type { OidcServer } from "./oidc.ts";

export interface LoginRun {
  code: number;
  stdout: string;
  stderr: string;
  /** What our loopback listener showed the browser. */
  page: string;
}

/**
 * Log in through the compiled binary; `args` are the profile flags. With `browser`, the binary
 * also starts the browser opener (xdg-open on PATH: a recorder in tests), and the test still plays the user.
 */
export async function loginWithBinary(oidc: OidcServer, args: string[], env: Record<string, string>, play?: (url: string) => Promise<Response>, browser = false): Promise<LoginRun> {
  const proc = Bun.spawn([BIN, "oauth", "login", ...(browser ? [] : ["--no-browser"]), ...args], { env: childEnv(env), stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  const reader = proc.stderr.getReader();
  let stderr = "";
  let page = "";
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += decoder.decode(value, { stream: true });
    const m = /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/.exec(stderr);
    if (m) {
      page = await (await (play ?? oidc.driveLogin)(m[1]!)).text();
      break;
    }
  }
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += decoder.decode(value, { stream: true });
  }
  const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return { code, stdout, stderr, page };
}

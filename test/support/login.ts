/**
 * Play the user the way a browser does, headlessly: follow redirects with a cookie jar, submit the
 * server's login, consent and device forms, and deliver the final redirect to our loopback
 * callback. `loginWithBinary` runs `dist/tokenctl oauth login` and plays the user through it.
 */
import { BIN, childEnv } from "./bin.ts";
import type { OidcServer } from "./oidc.ts";

export interface PlayOptions {
  /** Origin of the authorization server: any URL elsewhere is our loopback callback. */
  issuer: string;
  /** Press "deny" (consent page, device confirmation) instead of approving. */
  deny?: boolean;
  /** User name typed into the login form (default alice). */
  user?: string;
  /** User code typed into the device page when the URL does not carry it. */
  userCode?: string;
}

interface Form {
  choice?: string;
  action: string;
  fields: URLSearchParams;
}

const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const decode = (s: string) => s.replace(/&(#\d+|\w+);/g, (m, e: string) => (e.startsWith("#") ? String.fromCharCode(Number(e.slice(1))) : (entities[e] ?? m)));
const attrs = (tag: string) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1]!, decode(m[2]!)]));

function forms(html: string): Form[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map((m) => {
    const a = attrs(m[1]!);
    const fields = new URLSearchParams();
    for (const input of m[2]!.matchAll(/<input\b([^>]*)>/g)) {
      const i = attrs(input[1]!);
      if (i.name) fields.set(i.name, i.value ?? "");
    }
    return { choice: a["data-choice"], action: a.action ?? "", fields };
  });
}

/**
 * Follow `start` through the server's pages. Resolves with our callback's answer (browser login)
 * or with the last page the server showed (device flow: success, or an error page).
 */
export async function driveLogin(start: string, o: PlayOptions): Promise<Response> {
  const origin = new URL(o.issuer).origin;
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const remember = (r: Response) => {
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  };
  let url = start;
  let init: RequestInit = {};
  for (let hops = 0; hops < 30; hops++) {
    if (new URL(url).origin !== origin) return fetch(url); // the redirect to our loopback listener
    const r = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}), cookie: cookie() } });
    remember(r);
    init = {};
    if (r.status >= 300 && r.status < 400) {
      url = new URL(r.headers.get("location")!, url).href;
      continue;
    }
    const html = await r.text();
    const found = forms(html);
    // Deny where the page offers it (consent, device confirmation); elsewhere go on.
    const form = (o.deny && found.find((f) => f.choice === "deny")) || found.find((f) => f.choice !== "deny");
    // A page without a form to submit, or one that shows an error, is where the user stops.
    if (!form || /class="error"/.test(html)) return new Response(html, { status: r.status, headers: { "content-type": "text/html" } });
    if (form.fields.has("login")) form.fields.set("login", o.user ?? "alice");
    if (form.fields.has("password")) form.fields.set("password", "pw");
    if (form.fields.has("user_code") && !form.fields.get("user_code")) form.fields.set("user_code", o.userCode ?? "");
    url = new URL(form.action, url).href;
    init = { method: "POST", body: form.fields, headers: { "content-type": "application/x-www-form-urlencoded" } };
  }
  throw new Error("driveLogin: too many pages");
}

/**
 * Play the user of a device login: open the verification URI (complete, or plain with the code
 * typed in), sign in, and approve or deny. Resolves with the last page's text.
 */
export async function playDevice(oidc: OidcServer, verificationUri: string, o: { userCode?: string; deny?: boolean } = {}): Promise<string> {
  return (await driveLogin(verificationUri, { issuer: oidc.issuer, ...o })).text();
}

export interface LoginRun {
  code: number;
  stdout: string;
  stderr: string;
  /** What our loopback listener showed the browser (or the device flow's last page). */
  page: string;
}

/**
 * Log in through the compiled binary; `args` are the profile flags. With `browser`, the binary
 * also starts the browser opener (xdg-open on PATH: a recorder in tests), and the test still plays the user.
 */
export async function loginWithBinary(oidc: OidcServer, args: string[], env: Record<string, string>, play?: (url: string) => Promise<Response>, browser = false): Promise<LoginRun> {
  return runLogin([...(browser ? [] : ["--no-browser"]), ...args], env, /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/, async (m) => (await (play ?? oidc.driveLogin)(m[1]!)).text());
}

/**
 * `dist/tokenctl oauth login --device …`: waits for the verification URI and user code on stderr,
 * then `play(uri, code)` (default: approve through the pages).
 */
export async function deviceLoginWithBinary(oidc: OidcServer, args: string[], env: Record<string, string>, play?: (uri: string, userCode: string) => Promise<string>): Promise<LoginRun> {
  return runLogin(["--device", ...args], env, /(http:\/\/127\.0\.0\.1:\d+\/device\S*)\n[^\n]*\n\s*(\S+)\n/, async (m) =>
    play ? play(m[1]!, m[2]!) : playDevice(oidc, m[1]!, { userCode: m[2]! }),
  );
}

async function runLogin(args: string[], env: Record<string, string>, wait: RegExp, play: (m: RegExpExecArray) => Promise<string>): Promise<LoginRun> {
  const proc = Bun.spawn([BIN, "oauth", "login", ...args], { env: childEnv(env), stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  const reader = proc.stderr.getReader();
  let stderr = "";
  let page = "";
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += decoder.decode(value, { stream: true });
    const m = wait.exec(stderr);
    if (m) {
      page = await play(m);
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

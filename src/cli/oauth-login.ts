/** `tokenctl oauth login`: browser (authorization code + PKCE) or device login, then store the credential. */
import { defineCommand } from "citty";
import { commonArgs, helpMeta } from "./_shared.ts";
import { log, printJson } from "./output.ts";
import { OAUTH_ENV, oauthArgs, profileFrom, warnFallback } from "./oauth.ts";
import { parseDuration } from "../duration.ts";

export default defineCommand({
  meta: helpMeta({
    name: "login",
    description: "Log in with the browser (authorization code + PKCE) and store the credential",
    env: OAUTH_ENV,
    examples: ["tokenctl oauth login --profile work", "tokenctl oauth login --issuer https://auth.example.com --client-id tokenctl --scope 'openid offline_access' --no-browser"],
  }),
  args: {
    ...oauthArgs,
    browser: { type: "boolean", default: true, description: "Open a browser (--no-browser: print the URL only)" },
    ...commonArgs,
  },
  async run({ args }) {
    const profile = profileFrom(args);
    const timeoutMs = parseDuration(args.timeout ?? "5m", "--timeout");
    const { resolveServer } = await import("../oauth/protocol.ts");
    const { login: runLogin, saveLocked } = await import("../oauth/login.ts");
    const { openStore, defaultFileStore } = await import("../oauth/store.ts");
    const server = await resolveServer(profile, { need: "authorize", signal: AbortSignal.timeout(30_000) });
    const interactive = Boolean(process.stderr.isTTY);
    const { spinner } = await import("@clack/prompts");
    const spin = interactive ? spinner({ output: process.stderr }) : undefined;
    const record = await runLogin({
      server,
      scopes: profile.scopes,
      timeoutMs,
      openUrl: async (url) => {
        log().info(`Open this URL to log in:\n\n  ${url}\n`);
        if (args.browser) openBrowser(url);
        spin?.start("Waiting for the login to finish in the browser");
      },
    }).finally(() => spin?.stop());
    const { store, fallback } = await openStore({ spec: profile.storeSpec, profile: profile.name, preferKeychain: true });
    warnFallback(fallback, store.description);
    await saveLocked(store, record, 10_000);
    // A keychain login supersedes a record an earlier fallback left in the file store.
    if (store.kind === "keychain") {
      const { removeLocked } = await import("../oauth/login.ts");
      await removeLocked(defaultFileStore(profile.name), 10_000);
    }
    const expiresAt = new Date(record.expiresAt).toISOString();
    if (args.json) printJson({ profile: profile.name, store: store.description, expiresAt, scopes: record.scopes, refreshable: Boolean(record.refreshToken) });
    else log().success(`Logged in (profile ${profile.name}); credential in ${store.description}, access token valid until ${expiresAt}`);
  },
});

/** Start the platform's URL opener, if it has one; never fail the login over it. */
function openBrowser(url: string): void {
  const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? undefined : "xdg-open";
  const path = opener ? Bun.which(opener) : undefined;
  if (!path) return;
  try {
    // The URL goes in argv: it holds no secret (the PKCE verifier stays here, state is public).
    const child = Bun.spawn([path, url], { stdio: ["ignore", "ignore", "ignore"] });
    child.unref();
  } catch {
    // No browser after all: the URL is already printed above.
  }
}


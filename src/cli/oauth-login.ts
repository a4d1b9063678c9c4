/** `tokenctl oauth login`: browser (authorization code + PKCE) or device login, then store the credential. */
import { defineCommand } from "citty";
import { commonArgs, helpMeta } from "./_shared.ts";
import { log, printJson } from "./output.ts";
import { OAUTH_ENV, oauthArgs, profileFrom, warnFallback } from "./oauth.ts";
import { parseDuration } from "../duration.ts";
import { TokenctlError } from "../errors.ts";
import { configPath, shownUrl, type RememberedFields } from "../oauth/config.ts";
import { loginHint } from "../oauth/errors.ts";
import { shq } from "../shell.ts";

const LOGIN_ENV = [
  ...OAUTH_ENV,
  "BROWSER — browsers to try first, ':'-separated; %s in an entry stands for the URL",
  "DISPLAY — with neither it nor WAYLAND_DISPLAY set (Linux), login suggests --device",
  "WAYLAND_DISPLAY — see DISPLAY",
  "SSH_CONNECTION — set: an SSH session, where login suggests --device",
];


export default defineCommand({
  meta: helpMeta({
    name: "login",
    description: "Log in (browser with PKCE, or --device) and store the credential; flags given are saved in the profile",
    env: LOGIN_ENV,
    examples: [
      "tokenctl oauth login --issuer https://auth.example.com --client-id tokenctl",
      "tokenctl oauth login --profile work --device",
      "tokenctl oauth login --profile work --no-browser --json",
    ],
  }),
  args: {
    ...oauthArgs,
    browser: { type: "boolean", default: true, description: "Open a browser ($BROWSER, else xdg-open/open); --no-browser prints the URL only" },
    device: { type: "boolean", default: false, description: "Device authorization grant (RFC 8628): show a code to enter on any device; for SSH, containers, CI" },
    ...commonArgs,
  },
  async run({ args }) {
    const profile = profileFrom(args);
    const timeoutMs = parseDuration(args.timeout ?? "5m", "--timeout");
    // The fields the flags set are remembered, so later commands need no flags.
    const remembered: RememberedFields = {
      ...(args.issuer ? { issuer: profile.issuer } : {}),
      ...(args["client-id"] ? { clientId: profile.clientId } : {}),
      ...(args["token-endpoint"] ? { tokenEndpoint: profile.tokenEndpoint } : {}),
      ...(args.scope !== undefined ? { scopes: profile.scopes } : {}),
      ...(args.store ? { store: profile.store } : {}),
    };
    // Until the profile is saved, a retry needs the same flags: hints must name a command that works
    // (URLs without any user:password in them: hints are printed).
    const flags = [
      ...(args.issuer ? ["--issuer", shownUrl(args.issuer)] : []),
      ...(args["client-id"] ? ["--client-id", args["client-id"]] : []),
      ...(args["token-endpoint"] ? ["--token-endpoint", shownUrl(args["token-endpoint"])] : []),
      ...(args.scope !== undefined ? ["--scope", args.scope] : []),
      ...(args.store ? ["--store", args.store] : []),
    ];
    const retry = loginHint(profile.name, flags.map((f) => ` ${shq(f)}`).join(""));
    try {
      await run(args, profile, timeoutMs, remembered);
    } catch (e) {
      throw withRetryHint(e, retry);
    }
  },
});

type Args = { device?: boolean; browser?: boolean; json?: boolean };

async function run(args: Args, profile: ReturnType<typeof profileFrom>, timeoutMs: number, remembered: RememberedFields) {
  const { resolveServer } = await import("../oauth/protocol.ts");
  const { login, loginScopes, authorizationParams, noRefreshAdvice } = await import("../oauth/login.ts");
  const { noDisplayReason, openBrowser } = await import("../oauth/browser.ts");
  const { chooseStore, defaultFileStore } = await import("../oauth/store.ts");
  const { saveLocked, removeLocked } = await import("../oauth/lock.ts");
  const server = await resolveServer(profile, { need: args.device ? "token" : "authorize", signal: AbortSignal.timeout(30_000) });
  const scopes = loginScopes(profile, server);
  const interactive = Boolean(process.stderr.isTTY);
  const { spinner } = await import("@clack/prompts");
  const spin = interactive ? spinner({ output: process.stderr }) : undefined;
  let record;
  if (args.device) {
    const { deviceLogin, deviceEndpoint } = await import("../oauth/device.ts");
    const endpoint = deviceEndpoint(profile, server);
    record = await deviceLogin({
      server,
      endpoint,
      scopes,
      timeoutMs,
      show: ({ verificationUri, userCode, expiresInS }) => {
        // Each on its own line, so a person can copy it and a script can pick it out.
        process.stderr.write(`To log in, open this address on any device:\n  ${verificationUri}\nand enter this code (valid ${expiresInS} s) if asked:\n  ${userCode}\n`);
        spin?.start("Waiting for the login to be approved");
      },
    }).finally(() => spin?.stop());
  } else {
    const noDisplay = noDisplayReason();
    if (noDisplay && (profile.deviceAuthorizationEndpoint || server.as.device_authorization_endpoint))
      log().info(`${noDisplay[0]!.toUpperCase()}${noDisplay.slice(1)}: if no browser here can open the address below, log in with a code instead: ${loginHint(profile.name, " --device")}`);
    record = await login({
      server,
      scopes,
      params: authorizationParams(profile, scopes),
      timeoutMs,
      onStray: (what) => log().warn(`Ignored a request to the login listener (${what}); still waiting for this login's redirect`),
      openUrl: async (url) => {
        log().info(`Open this address to log in:\n\n  ${url}\n`);
        if (args.browser) {
          const opened = openBrowser(url);
          if (opened) log().debug(`Started ${opened}`);
        }
        spin?.start("Waiting for the login to finish in the browser");
      },
    }).finally(() => spin?.stop());
  }
  const { store, fallback } = await chooseStore({ spec: profile.storeSpec, profile: profile.name, preferKeychain: true });
  await warnFallback(fallback, store.description);
  await saveLocked(store, record, 10_000);
  // A keychain login supersedes a record an earlier fallback left in the file store.
  if (store.kind === "keychain") await removeLocked(defaultFileStore(profile.name), 10_000);
  let saved: string[] = [];
  let inConfig = true;
  if (Object.keys(remembered).length) {
    const { saveProfile } = await import("../oauth/config.ts");
    try {
      saved = await saveProfile(configPath(), profile.name, remembered);
      if (saved.length)
        log().info(`Saved ${saved.join(", ")} in profile "${profile.name}" of ${configPath()}: from now on, oauth token, status, logout, exec --oauth ${profile.name} and the daemon need no flags`);
    } catch (e) {
      // The credential is stored; only the convenience failed. Say why, and go on.
      inConfig = false;
      log().warn(`Could not save profile "${profile.name}" in ${configPath()}: ${e instanceof Error ? e.message : String(e)}. Pass the same flags to later commands.`);
    }
  }
  // A running daemon holds profiles by their config.json settings: have it take up this login now
  // (new settings, maybe another store) rather than refresh with what it held before.
  let daemonReloaded = false;
  if (inConfig) {
    const { reloadInDaemon } = await import("../oauth/daemon-client.ts");
    daemonReloaded = await reloadInDaemon({ profile: profile.name });
    if (daemonReloaded) log().info(`The running daemon now holds profile "${profile.name}" and keeps it fresh`);
  }
  const advice = noRefreshAdvice(record, scopes, server);
  if (advice) log().warn(advice);
  const expiresAt = new Date(record.expiresAt).toISOString();
  if (args.json)
    printJson({ profile: profile.name, store: store.description, expiresAt, scopes: record.scopes, refreshable: Boolean(record.refreshToken), savedInProfile: saved, daemonReloaded });
  else log().success(`Logged in (profile ${profile.name}); credential in ${store.description}, access token valid until ${expiresAt}`);
}

/** The same error, its hint naming the login command with the flags this one had. */
function withRetryHint(e: unknown, retry: string): unknown {
  if (!(e instanceof TokenctlError) || !e.hint) return e;
  const hint = e.hint.replace(/tokenctl oauth login(?: --profile \S+)?/, retry);
  if (hint === e.hint) return e;
  // hint is read-only by type (errors are built once); this is the one place that re-targets it.
  Object.defineProperty(e, "hint", { value: hint });
  return e;
}

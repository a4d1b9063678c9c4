/**
 * The device authorization grant (RFC 8628), for SSH sessions, containers and CI: ask the server
 * for a user code, show it with the verification URI, and poll the token endpoint at the interval
 * the server gives (5 s when it gives none), slowing down by 5 s at each `slow_down`, until the
 * user approves or denies, the code expires, or our own --timeout runs out.
 */
import * as oauth from "oauth4webapi";
import { setTimeout as sleepTimer } from "node:timers/promises";
import { AuthRefusedError, UnavailableError, UsageError } from "../errors.ts";
import { checkUrl, type Profile } from "./config.ts";
import { loginHint, OAuthServerError, TransientError } from "./errors.ts";
import { redactServerText, safeErrorCode } from "./redact.ts";
import { recordFromGrant, type OAuthRecord } from "./record.ts";
import { AuthorizationDeniedError, classify, grantOf, unreachableHint, type Server } from "./protocol.ts";

/** What the user must see: where to go and the code to enter. */
export interface DevicePrompt {
  /** `verification_uri_complete` when the server gives one (the code is already in it), else `verification_uri`. */
  verificationUri: string;
  userCode: string;
  expiresInS: number;
}

export interface DeviceLoginOptions {
  server: Server;
  /** The profile's `deviceAuthorizationEndpoint`, for servers whose metadata lacks one (GitHub). */
  endpoint?: string;
  scopes: string[];
  show: (prompt: DevicePrompt) => void | Promise<void>;
  /** Our own limit on the whole login (--timeout). */
  timeoutMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** RFC 8628 §3.2: the interval when the server names none, and §3.5: the slow_down step. */
export const DEFAULT_INTERVAL_S = 5;
export const SLOW_DOWN_STEP_S = 5;

/** The device authorization endpoint for this profile and server, or a UsageError saying how to get one. */
export function deviceEndpoint(profile: Pick<Profile, "name" | "deviceAuthorizationEndpoint">, server: Pick<Server, "as">): string {
  const url = profile.deviceAuthorizationEndpoint ?? server.as.device_authorization_endpoint;
  if (!url)
    throw new UsageError(`The authorization server of profile "${profile.name}" has no device authorization endpoint`, {
      hint: 'Log in without --device, or set "deviceAuthorizationEndpoint" in the profile in config.json if the provider has one',
    });
  checkUrl(url, `device authorization endpoint of profile "${profile.name}"`);
  return url;
}

/**
 * The error body of a failed device request, its text through redact.ts; the raw error (which
 * holds the whole body) is not kept as the cause.
 */
function serverError(e: { error: string; status: number; description?: string }, what: string, secrets: (string | undefined)[]): OAuthServerError {
  const code = safeErrorCode(e.error);
  const desc = e.description ? ` (${redactServerText(e.description, secrets)})` : "";
  return new OAuthServerError(code, e.status, `${what} was refused: ${code}${desc}`);
}

/** Run the device login; resolves with the record to store. */
export async function deviceLogin(o: DeviceLoginOptions): Promise<OAuthRecord> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => sleepTimer(ms));
  const started = now();
  const deadline = started + o.timeoutMs;
  const as: oauth.AuthorizationServer = o.endpoint ? { ...o.server.as, device_authorization_endpoint: o.endpoint } : o.server.as;
  const signal = () => AbortSignal.timeout(Math.max(1000, Math.min(30_000, deadline - now())));
  const down = unreachableHint(o.server.profile, " --device");

  let device: oauth.DeviceAuthorizationResponse;
  try {
    const params = new URLSearchParams(o.scopes.length ? { scope: o.scopes.join(" ") } : {});
    const response = await oauth.deviceAuthorizationRequest(as, o.server.client, oauth.None(), params, o.server.http(signal()));
    device = await oauth.processDeviceAuthorizationResponse(as, o.server.client, response);
  } catch (e) {
    throw classify(e, "The device authorization request", [], down);
  }
  const secrets = [device.device_code];
  const expiresAt = started + device.expires_in * 1000;
  let intervalS = typeof device.interval === "number" && device.interval > 0 ? device.interval : DEFAULT_INTERVAL_S;
  await o.show({
    verificationUri: device.verification_uri_complete ?? device.verification_uri,
    userCode: device.user_code,
    expiresInS: device.expires_in,
  });

  const expired = () =>
    new AuthRefusedError(`The device code expired after ${device.expires_in} s before the login was approved`, {
      hint: `Run ${loginHint(o.server.profile, " --device")} again, and enter the new code within ${device.expires_in} s`,
    });
  const noAnswer = () =>
    new UnavailableError(`No answer to the device login within ${Math.round(o.timeoutMs / 1000)} s`, {
      hint: `Run ${loginHint(o.server.profile, " --device")} again (--timeout to wait longer), and approve it at the address shown`,
    });
  for (;;) {
    const wait = intervalS * 1000;
    const remaining = deadline - now();
    if (remaining <= 0) throw noAnswer();
    // Never poll faster than the server allows: when --timeout ends first, wait it out and stop.
    if (wait > remaining) {
      await sleep(remaining);
      throw noAnswer();
    }
    await sleep(wait);
    if (now() >= expiresAt + wait) throw expired(); // the server should have said so; do not poll forever
    let response: Response;
    try {
      response = await oauth.deviceCodeGrantRequest(as, o.server.client, oauth.None(), device.device_code, o.server.http(signal()));
    } catch (e) {
      const error = classify(e, "The device token request", secrets, down);
      if (error instanceof TransientError) continue; // a network hiccup: poll again at the next interval
      throw error;
    }
    if (response.status >= 500) continue;
    const at = now();
    let failure: PollError | undefined = await errorIn200(response);
    if (!failure) {
      try {
        const grant = await oauth.processDeviceCodeResponse(as, o.server.client, response);
        return recordFromGrant(grantOf(grant), at, { scopes: o.scopes });
      } catch (e) {
        if (!(e instanceof oauth.ResponseBodyError)) throw classify(e, "The device token response", secrets, down);
        failure = { error: e.error, status: e.status, ...(e.error_description ? { description: e.error_description } : {}), interval: e.cause.interval };
      }
    }
    switch (failure.error) {
      case "authorization_pending":
        continue;
      case "slow_down": {
        // RFC 8628 §3.5: 5 s more, for this and every later poll; GitHub also says the new interval.
        const told = typeof failure.interval === "number" && Number.isFinite(failure.interval) ? failure.interval : 0;
        intervalS = Math.max(intervalS + SLOW_DOWN_STEP_S, told);
        continue;
      }
      case "access_denied":
        throw new AuthorizationDeniedError("The login was denied at the authorization server (access_denied)", {
          hint: `Run ${loginHint(o.server.profile, " --device")} again and approve the request`,
        });
      case "expired_token":
        throw expired();
      default:
        throw serverError(failure, "The device login", secrets);
    }
  }
}

/** A poll's OAuth error, from whichever status it came with. */
interface PollError {
  error: string;
  status: number;
  description?: string;
  interval?: unknown;
}

/**
 * GitHub answers pending, slow_down and denial with HTTP 200 and an error body (oauth4webapi reads
 * error bodies only from other statuses); such a body is an error all the same.
 */
async function errorIn200(response: Response): Promise<PollError | undefined> {
  if (response.status !== 200) return undefined;
  let body: unknown;
  try {
    body = await response.clone().json();
  } catch {
    return undefined; // not JSON: oauth4webapi reports it
  }
  if (typeof body !== "object" || body === null || typeof (body as { error?: unknown }).error !== "string") return undefined;
  const b = body as { error: string; error_description?: unknown; interval?: unknown };
  return { error: b.error, status: 200, ...(typeof b.error_description === "string" ? { description: b.error_description } : {}), interval: b.interval };
}


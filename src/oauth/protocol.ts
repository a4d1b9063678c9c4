/**
 * The OAuth protocol, through oauth4webapi: discovery, PKCE (S256), code exchange, refresh,
 * revocation and error parsing. Here failures are sorted into what refresh.ts acts on:
 * OAuthServerError (the server said no) and TransientError (network, timeout, 5xx: retry).
 */
import * as oauth from "oauth4webapi";
import { AuthRefusedError, TokenctlError, UsageError } from "../errors.ts";
import { checkUrl, isLoopback, shownUrl, type Profile } from "./config.ts";
import { loginHint, OAuthServerError, TransientError, type TokenGrant } from "./errors.ts";
import type { RefreshFn } from "./refresh.ts";
import { redactServerText, safeErrorCode } from "./redact.ts";

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A resolved authorization server plus how to talk to it. */
export interface Server {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  /** The profile this server is for: the login hints name it. */
  profile: string;
  /** Options every request carries (insecure http allowed for loopback only, custom fetch). */
  http: (signal?: AbortSignal) => oauth.HttpRequestOptions<"GET" | "POST", URLSearchParams>;
}

export interface ResolveOptions {
  fetch?: Fetch;
  signal?: AbortSignal;
  /** What the caller needs: login needs the authorization endpoint, refresh only the token endpoint. */
  need: "authorize" | "token" | "revoke";
}

function options(loopback: boolean, fetchImpl: Fetch | undefined, signal?: AbortSignal) {
  return {
    ...(signal ? { signal } : {}),
    ...(loopback ? { [oauth.allowInsecureRequests]: true } : {}),
    ...(fetchImpl ? { [oauth.customFetch]: fetchImpl as never } : {}),
  };
}

/** The server for a profile: explicit endpoints, else discovery from the issuer. */
export async function resolveServer(profile: Profile, o: ResolveOptions): Promise<Server> {
  if (!profile.clientId)
    throw new UsageError(`Profile "${profile.name}" has no client id`, { hint: "Pass --client-id, or set clientId in the profile in config.json" });
  const client: oauth.Client = { client_id: profile.clientId };
  const explicitEnough = profile.tokenEndpoint && (o.need !== "authorize" || profile.authorizationEndpoint);
  let as: oauth.AuthorizationServer;
  if (explicitEnough || !profile.issuer) {
    if (!profile.tokenEndpoint)
      throw new UsageError(`Profile "${profile.name}" has neither an issuer nor a token endpoint`, {
        hint: "Pass --issuer https://… (discovery) or --token-endpoint https://…",
      });
    as = {
      issuer: profile.issuer ?? new URL(profile.tokenEndpoint).origin,
      token_endpoint: profile.tokenEndpoint,
      ...(profile.authorizationEndpoint ? { authorization_endpoint: profile.authorizationEndpoint } : {}),
      ...(profile.revocationEndpoint ? { revocation_endpoint: profile.revocationEndpoint } : {}),
    };
  } else {
    as = await discover(checkUrl(profile.issuer, "issuer"), o, profile.name);
    if (profile.tokenEndpoint) as = { ...as, token_endpoint: profile.tokenEndpoint };
    if (profile.authorizationEndpoint) as = { ...as, authorization_endpoint: profile.authorizationEndpoint };
    if (profile.revocationEndpoint) as = { ...as, revocation_endpoint: profile.revocationEndpoint };
  }
  // Every endpoint must pass the same rule as the issuer: a loopback issuer's metadata must not
  // send us (with allowInsecureRequests on) to plain http elsewhere.
  let loopback = true;
  for (const k of ["token_endpoint", "authorization_endpoint", "revocation_endpoint"] as const) {
    const v = as[k];
    if (v) loopback &&= isLoopback(checkUrl(v, `${k} of profile "${profile.name}"`));
  }
  if (o.need === "authorize" && !as.authorization_endpoint)
    throw new UsageError(`Profile "${profile.name}" has no authorization endpoint`, { hint: "Pass --issuer with discovery, or set authorizationEndpoint in config.json" });
  const insecure = loopback && [as.token_endpoint, as.authorization_endpoint].some((u) => u?.startsWith("http:"));
  return { as, client, profile: profile.name, http: (signal) => options(insecure, o.fetch, signal) };
}

async function discover(issuer: URL, o: ResolveOptions, profile: string): Promise<oauth.AuthorizationServer> {
  const http = options(isLoopback(issuer) && issuer.protocol === "http:", o.fetch, o.signal);
  const at = shownUrl(issuer);
  const down = {
    hint: `Check the issuer address and that the server is up (curl -sS ${at.replace(/\/$/, "")}/.well-known/openid-configuration), then run ${loginHint(profile)} again`,
  };
  let lastError: unknown;
  // OpenID discovery first, then RFC 8414 OAuth metadata.
  for (const algorithm of ["oidc", "oauth2"] as const) {
    let response: Response;
    try {
      response = await oauth.discoveryRequest(issuer, { ...http, algorithm });
    } catch (e) {
      throw transient(e, `OpenID/OAuth discovery at ${at}`, [], down.hint);
    }
    if (response.status >= 500) throw new TransientError(`OpenID/OAuth discovery at ${at} answered HTTP ${response.status}`, down);
    if (response.status === 404) {
      lastError = new Error(`HTTP 404 for ${algorithm} metadata`);
      continue;
    }
    try {
      return await oauth.processDiscoveryResponse(issuer, response);
    } catch (e) {
      throw new UsageError(`Discovery at ${at} returned unusable metadata: ${(e as Error).message}`, { cause: e });
    }
  }
  throw new UsageError(`No OAuth/OpenID metadata found at ${at} (tried .well-known/openid-configuration and oauth-authorization-server)`, {
    cause: lastError,
    hint: "Pass the endpoints explicitly: --token-endpoint (and authorizationEndpoint in config.json)",
  });
}

/**
 * Sort a failed request or response into OAuthServerError / TransientError / other: the one
 * mapping for every OAuth endpoint (token, device, revocation). Every text the server sent goes
 * through redactServerText with the secrets of this request (redact.ts); the raw oauth4webapi
 * error, which holds the whole body, is not kept as the cause. `hint` goes on a TransientError.
 */
export function classify(e: unknown, what: string, secrets: readonly (string | undefined)[], hint?: string): Error {
  const text = (t: string) => redactServerText(t, secrets);
  if (e instanceof oauth.ResponseBodyError) {
    const code = safeErrorCode(e.error);
    if (e.status >= 500) return new TransientError(`${what}: HTTP ${e.status} (${code})`, { hint });
    const desc = typeof e.error_description === "string" && e.error_description ? ` (${text(e.error_description)})` : "";
    return new OAuthServerError(code, e.status, `${what} was refused: ${code}${desc}`);
  }
  if (e instanceof oauth.WWWAuthenticateChallengeError) {
    const error = safeErrorCode(e.cause[0]?.parameters.error ?? "invalid_client");
    return new OAuthServerError(error, e.status, `${what} was refused with HTTP ${e.status} (${error})`);
  }
  if (e instanceof oauth.OperationProcessingError) {
    const status = e.cause instanceof Response ? e.cause.status : undefined;
    if (status !== undefined && status >= 500) return new TransientError(`${what}: HTTP ${status}`, { hint });
    return new AuthRefusedError(`${what}: unexpected response (${text(e.message)})`);
  }
  return transient(e, what, secrets, hint);
}

/** A request that got no answer (refused, DNS, timeout): TransientError, exit 5. Our own errors pass through. */
function transient(e: unknown, what: string, secrets: readonly (string | undefined)[], hint?: string): Error {
  if (e instanceof TokenctlError) return e;
  const reason = e instanceof Error ? (e.name === "TimeoutError" || e.name === "AbortError" ? "timed out" : redactServerText(e.message, secrets)) : "failed";
  return new TransientError(`${what} failed: ${reason}`, { cause: e, hint });
}

/** The hint for a token endpoint that did not answer during a login. */
export function unreachableHint(profile: string, flags = ""): string {
  return `Check the network and the authorization server, then run ${loginHint(profile, flags)} again`;
}

/** A RefreshFn for refresh.ts that uses this server. */
export function refresher(server: Server): RefreshFn {
  return async (refreshToken, signal) => {
    let response: Response;
    try {
      response = await oauth.refreshTokenGrantRequest(server.as, server.client, oauth.None(), refreshToken, server.http(signal));
    } catch (e) {
      throw classify(e, "The refresh request", [refreshToken]);
    }
    if (response.status >= 500) throw new TransientError(`The token endpoint answered HTTP ${response.status}`);
    try {
      return grantOf(await oauth.processRefreshTokenResponse(server.as, server.client, response));
    } catch (e) {
      throw classify(e, "The refresh request", [refreshToken]);
    }
  };
}

/** A token endpoint's answer as the grant refresh, code exchange and device login store. */
export function grantOf(r: oauth.TokenEndpointResponse): TokenGrant {
  return {
    accessToken: r.access_token,
    ...(r.refresh_token ? { refreshToken: r.refresh_token } : {}),
    ...(typeof r.expires_in === "number" ? { expiresIn: r.expires_in } : {}),
    ...(r.scope ? { scope: r.scope } : {}),
  };
}

/** Everything a login needs to build the authorization URL and check the redirect. */
export interface AuthorizationRequest {
  url: URL;
  state: string;
  codeVerifier: string;
  redirectUri: string;
}

/** Build an authorization URL with PKCE S256 and a random state; `extra` adds parameters (prompt …). */
export async function authorizationRequest(server: Server, redirectUri: string, scopes: string[], extra: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(server.as.authorization_endpoint!);
  url.searchParams.set("client_id", server.client.client_id);
  url.searchParams.set("redirect_uri", redirectUri);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", state);
  if (scopes.length) url.searchParams.set("scope", scopes.join(" "));
  // Ours win: a profile's parameters must not replace the PKCE challenge, state or redirect.
  for (const [k, v] of Object.entries(extra)) if (!url.searchParams.has(k)) url.searchParams.set(k, v);
  return { url, state, codeVerifier, redirectUri };
}

/** The authorization server sent the user back with an error, e.g. access_denied. */
export class AuthorizationDeniedError extends AuthRefusedError {
  override name = "AuthorizationDeniedError";
}

/** Check the redirect (state, error) and exchange the code; returns the grant. */
export async function exchangeCode(server: Server, req: AuthorizationRequest, callback: URL, signal?: AbortSignal): Promise<TokenGrant> {
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(server.as, server.client, callback.searchParams, req.state);
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError) {
      const desc = e.error_description ? ` (${redactServerText(e.error_description, [req.codeVerifier, req.state])})` : "";
      throw new AuthorizationDeniedError(`The authorization server refused the login: ${safeErrorCode(e.error)}${desc}`, {
        hint: `Run ${loginHint(server.profile)} again and approve the request`,
      });
    }
    const got = callback.searchParams.get("state");
    if (got !== req.state)
      throw new AuthRefusedError(
        got === null ? "The redirect carried no state parameter; refusing the code" : "The redirect's state does not match this login (possible cross-site request); refusing the code",
        { cause: e, hint: `Run ${loginHint(server.profile)} again, and only follow the link it prints` },
      );
    throw new AuthRefusedError(`The redirect was not a valid authorization response: ${redactServerText((e as Error).message, [req.codeVerifier, req.state])}`);
  }
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(server.as, server.client, oauth.None(), params, req.redirectUri, req.codeVerifier, server.http(signal));
  } catch (e) {
    throw classify(e, "The code exchange", [params.get("code") ?? undefined, req.codeVerifier, req.state], unreachableHint(server.profile));
  }
  if (response.status >= 500) throw new TransientError(`The token endpoint answered HTTP ${response.status}`, { hint: unreachableHint(server.profile) });
  try {
    return grantOf(await oauth.processAuthorizationCodeResponse(server.as, server.client, response));
  } catch (e) {
    throw classify(e, "The code exchange", [params.get("code") ?? undefined, req.codeVerifier, req.state], unreachableHint(server.profile));
  }
}

/** Revoke a token at the server's revocation endpoint; false when it has none. */
export async function revoke(server: Server, token: string, hint: "refresh_token" | "access_token", signal?: AbortSignal): Promise<boolean> {
  if (!server.as.revocation_endpoint) return false;
  let response: Response;
  try {
    response = await oauth.revocationRequest(server.as, server.client, oauth.None(), token, { ...server.http(signal), additionalParameters: { token_type_hint: hint } });
  } catch (e) {
    throw classify(e, "The revocation request", [token]);
  }
  if (response.status >= 500) throw new TransientError(`The revocation endpoint answered HTTP ${response.status}`);
  try {
    await oauth.processRevocationResponse(response);
  } catch (e) {
    throw classify(e, "The revocation request", [token]);
  }
  return true;
}

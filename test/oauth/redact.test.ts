/** Server error text is untrusted: what we sent never comes back out, nor terminal escapes, nor a novel. */
import { describe, expect, test } from "bun:test";
import { resolveProfile } from "../../src/oauth/config.ts";
import { OAuthServerError, TransientError } from "../../src/oauth/errors.ts";
import { refresher, resolveServer, revoke } from "../../src/oauth/protocol.ts";
import { MAX_SERVER_TEXT, redactServerText, safeErrorCode } from "../../src/oauth/redact.ts";

const RT = "rt-Abc/123+xyz=SECRET-REFRESH";

describe("redactServerText", () => {
  test.each([
    ["raw", `bad token ${RT}`, "bad token [redacted]"],
    ["percent-encoded", `refresh_token=${encodeURIComponent(RT)}&x=1`, "refresh_token=[redacted]&x=1"],
    ["form-encoded", `body: ${new URLSearchParams({ refresh_token: RT })}`, "body: refresh_token=[redacted]"],
    ["twice", `${RT} and ${RT}`, "[redacted] and [redacted]"],
    ["escapes and newlines", "bad\u001b[31m red\r\nnext\u202eevil", "bad [31m red next evil"],
    ["nothing to do", "invalid grant", "invalid grant"],
  ])("%s", (_n, text, want) => {
    expect(redactServerText(text, [RT, undefined, "short"])).toBe(want);
  });

  test(`capped at ${MAX_SERVER_TEXT} characters`, () => {
    const out = redactServerText("x".repeat(5000), []);
    expect(out.length).toBe(MAX_SERVER_TEXT);
    expect(out.endsWith("…")).toBe(true);
  });

  test.each([
    ["invalid_grant", "invalid_grant"],
    ["urn:ietf:params:oauth:error:x", "urn:ietf:params:oauth:error:x"],
    [`x ${RT}`, "invalid_error_code"],
    ["a\nb", "invalid_error_code"],
    [42, "invalid_error_code"],
  ])("safeErrorCode(%p)", (code, want) => {
    expect(safeErrorCode(code)).toBe(want);
  });
});

describe("the token and revocation endpoints' error text, echoed back", () => {
  /** A server that answers every POST with an OAuth error whose description (and code) echo the request body. */
  const echo = (status: number, code = "invalid_grant") =>
    (async (_url: string | URL | Request, init?: RequestInit) =>
      Response.json({ error: code, error_description: `you sent: ${String(init?.body)} \u001b[2J` }, { status })) as typeof fetch;
  const profile = resolveProfile({ profile: "p", clientId: "c", tokenEndpoint: "https://as.example/token" }, {});

  test("refresh: the refresh token never appears, in any encoding; the error code is kept", async () => {
    const server = await resolveServer({ ...profile, revocationEndpoint: "https://as.example/revoke" }, { need: "token", fetch: echo(400) });
    const e = await refresher(server)(RT, AbortSignal.timeout(1000)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OAuthServerError);
    const err = e as OAuthServerError;
    expect(err.error).toBe("invalid_grant");
    expect(err.message).toContain("refresh_token=[redacted]");
    for (const form of [RT, encodeURIComponent(RT), "\u001b"]) expect(err.message).not.toContain(form);
    expect(err.cause).toBeUndefined();
  });

  test("refresh with a 5xx and a code that quotes the token: transient, no echo", async () => {
    const server = await resolveServer(profile, { need: "token", fetch: echo(503, `x ${RT}`) });
    const e = await refresher(server)(RT, AbortSignal.timeout(1000)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransientError);
    expect((e as Error).message).not.toContain(RT);
  });

  test("revocation: the token never appears", async () => {
    const server = await resolveServer({ ...profile, revocationEndpoint: "https://as.example/revoke" }, { need: "revoke", fetch: echo(400, "invalid_request") });
    const e = await revoke(server, RT, "refresh_token", AbortSignal.timeout(1000)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OAuthServerError);
    expect((e as Error).message).toContain("[redacted]");
    for (const form of [RT, encodeURIComponent(RT)]) expect((e as Error).message).not.toContain(form);
  });
});

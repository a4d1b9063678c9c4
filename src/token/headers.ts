/** HTTP headers that carry a session token, by token kind. */

/** Claude session keys go in a cookie; everything else is a bearer token. */
export const SESSION_KEY_PREFIX = "sk-ant-sid";

export type Header = readonly [name: string, value: string];

/** The headers for `token`: a session key gives a Cookie (and the org header when known), else Bearer. */
export function headersFor(token: string, organizationUuid?: string): Header[] {
  if (token.startsWith(SESSION_KEY_PREFIX)) {
    const headers: Header[] = [["Cookie", `sessionKey=${token}`]];
    if (organizationUuid) headers.push(["X-Organization-Uuid", organizationUuid]);
    return headers;
  }
  return [["Authorization", `Bearer ${token}`]];
}

/** One `Name: value` per line, the format `curl -H @-` reads. */
export function formatHeaderLines(headers: Header[]): string {
  return headers.map(([k, v]) => `${k}: ${v}`).join("\n");
}

/**
 * The handshake's one decision, as a pure function: is this first message a valid auth? The server
 * calls only checkAuth (STYLE habit 9); tests call it without a socket.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Message } from "./extension.ts";

/** A new daemon token: 32 bytes from the OS CSPRNG, 64 lowercase hex characters. */
export function generateToken(): string {
  return randomBytes(32).toString("hex");
}

/** SHA-256 of a token; the server keeps this, and compares digests so lengths never leak. */
export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export type AuthCheck =
  /** Not an auth message at all: refuse with "Authentication required". */
  | { kind: "not-auth" }
  /** An auth message carrying `token`: ok says whether it matches. */
  | { kind: "token"; ok: boolean }
  /** An auth message with no `token` field: offer it to the extensions' authenticate(). */
  | { kind: "other-credential" };

/**
 * Judge a first message. Any `token` value (wrong length, number, object, null) is hashed and
 * compared in constant time; timingSafeEqual throws on unequal lengths, digests never differ in length.
 */
export function checkAuth(message: Message, expectedDigest: Buffer): AuthCheck {
  if (message.type !== "auth") return { kind: "not-auth" };
  if (!Object.hasOwn(message, "token")) return { kind: "other-credential" };
  const offered = typeof message.token === "string" ? message.token : JSON.stringify(message.token) ?? "";
  const ok = timingSafeEqual(tokenDigest(offered), expectedDigest) && typeof message.token === "string";
  return { kind: "token", ok };
}


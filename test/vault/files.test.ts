import { describe, expect, it } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mergeCredentials, realFiles } from "../../src/vault/files.ts";
import { checkCredential, parseCredentialJson } from "../../src/vault/record.ts";
import { tempDir } from "../support/tmp.ts";

const C = { accessToken: "a", refreshToken: "r", expiresAt: 1, scopes: ["s"] };

describe("credentials file", () => {
  it("merges at --key keeping every other key", () => {
    expect(JSON.parse(mergeCredentials({ other: { t: 1 }, claudeAiOauth: { old: true } }, "claudeAiOauth", C))).toEqual({ other: { t: 1 }, claudeAiOauth: C });
  });

  it("restores into a missing file (0600) and reports the state at --key", () => {
    const dir = tempDir();
    const files = realFiles({ credentials: join(dir, "c", "creds.json"), key: "k", envFile: join(dir, "env"), stateDir: join(dir, "state") });
    expect(files.readLocal()).toEqual({ file: "absent", entry: undefined });
    files.restore(C);
    expect(statSync(join(dir, "c", "creds.json")).mode & 0o777).toBe(0o600);
    // Nothing was there, so nothing is kept.
    expect(existsSync(join(dir, "state", "credentials.before-restore.json"))).toBe(false);
    expect(files.readLocal()).toEqual({ file: "present", entry: { ok: true, credential: C } });
  });

  it("refuses to restore into a file that is not a JSON object", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "creds.json"), "[1,2]", { mode: 0o600 });
    const files = realFiles({ credentials: join(dir, "creds.json"), key: "k", envFile: join(dir, "env"), stateDir: join(dir, "state") });
    expect(files.readLocal().file).toBe("unparseable");
    expect(() => files.restore(C)).toThrow("not a JSON object");
    expect(readFileSync(join(dir, "creds.json"), "utf8")).toBe("[1,2]");
  });

  it("reads a too-open env file as different so it gets replaced", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "env"), "X=1\n", { mode: 0o644 });
    expect(realFiles({ credentials: join(dir, "c"), key: "k", envFile: join(dir, "env"), stateDir: join(dir, "state") }).readEnv()).toBe("");
  });
});

describe("credential shape", () => {
  it.each<[unknown, string | true]>([
    [C, true],
    [{ ...C, scopes: undefined }, true],
    [null, "is null, not an object"],
    [[C], "is an array, not an object"],
    [{ ...C, accessToken: "" }, "accessToken"],
    [{ ...C, refreshToken: 5 }, "refreshToken"],
    [{ ...C, expiresAt: "1" }, "expiresAt"],
    [{ ...C, scopes: [1] }, "scopes"],
  ])("%j → %s", (value, expected) => {
    const r = checkCredential(value);
    if (expected === true) expect(r.ok).toBe(true);
    else expect(r.ok ? "" : r.problem).toContain(expected);
  });

  it("says only 'not valid JSON' about broken JSON (the parser would quote it)", () => {
    expect(parseCredentialJson('{"accessToken":"MARKER')).toEqual({ ok: false, problem: "is not valid JSON" });
  });
});

import { describe, expect, it } from "bun:test";
import { checkLocal, envLine, mergeBackup, planBackup, planSync, setupTokenOf, type LocalState, type RemoteState, type Step, type SyncState } from "../../src/vault/plan.ts";
import type { OAuthCredential } from "../../src/vault/record.ts";

const NOW = Date.parse("2026-01-01T00:00:00Z");
const cred = (expiresAt: number, tag = "a"): OAuthCredential => ({ accessToken: `at-${tag}`, refreshToken: `rt-${tag}`, expiresAt, scopes: ["user:inference"] });
const LOCAL = cred(NOW + 3600_000, "local");
const OLDER = cred(NOW + 60_000, "older");
const NEWER = cred(NOW + 7200_000, "newer");
const local = (c?: OAuthCredential | unknown, file: LocalState["file"] = "present"): LocalState =>
  c === undefined ? { file, entry: undefined } : { file, entry: (c as OAuthCredential).accessToken ? { ok: true, credential: c as OAuthCredential } : { ok: false, problem: "has no non-empty string accessToken" } };
const remote = (data: Record<string, unknown> = {}, version = data && Object.keys(data).length ? 3 : 0): RemoteState => ({ version, data });
const withBackup = (c: OAuthCredential, extra: Record<string, unknown> = {}) => remote({ claude_ai_oauth_json: JSON.stringify(c), sibling: "kept", ...extra });
const state = (over: Partial<SyncState>): SyncState => ({
  now: NOW,
  local: local(LOCAL),
  remote: remote(),
  envFile: undefined,
  probe: "pending",
  restored: false,
  settings: { setupTokenPrefix: "sk-ant-oat01-", envName: "CLAUDE_CODE_OAUTH_TOKEN" },
  ...over,
});
const kinds = (steps: Step[]) => steps.map((s) => (s.do === "keep-remote" ? `keep-remote:${s.reason}` : s.do));

describe("planSync", () => {
  const SETUP = "sk-ant-oat01-abcdef";
  it.each<[string, Partial<SyncState>, string[]]>([
    ["setup token, no env file → write it", { remote: remote({ setup_token: SETUP }) }, ["write-env"]],
    ["setup token, env file differs → rewrite", { remote: remote({ setup_token: SETUP }), envFile: "CLAUDE_CODE_OAUTH_TOKEN=old\n" }, ["write-env"]],
    ["setup token, env file identical → keep", { remote: remote({ setup_token: SETUP }), envFile: envLine("CLAUDE_CODE_OAUTH_TOKEN", SETUP) }, ["keep-env"]],
    ["no setup token, stale env file → remove, probe", { remote: withBackup(LOCAL), envFile: "X=1\n" }, ["remove-env", "probe"]],
    ["setup token with the wrong prefix → warn, rotating path", { remote: remote({ setup_token: "sk-other-1" }), envFile: "X=1\n" }, ["warn", "remove-env", "probe"]],
    ["setup token not a string → warn", { remote: remote({ setup_token: 42 }) }, ["warn", "probe"]],
    ["nothing known yet → probe", {}, ["probe"]],
    ["works, no secret → backup (cas 0)", { probe: "ok" }, ["backup"]],
    ["works, older backup → backup", { probe: "ok", remote: withBackup(OLDER) }, ["backup"]],
    ["works, newer backup → keep it", { probe: "ok", remote: withBackup(NEWER) }, ["keep-remote:newer"]],
    ["works, same backup → nothing to write", { probe: "ok", remote: withBackup(LOCAL) }, ["keep-remote:current"]],
    ["works, malformed backup → warn, replace", { probe: "ok", remote: remote({ claude_ai_oauth_json: "{not json" }) }, ["warn", "backup"]],
    ["works, local entry malformed → skip backup", { probe: "ok", local: local({ bad: 1 }) }, ["skip-backup"]],
    ["works, local entry missing → skip backup", { probe: "ok", local: local(undefined) }, ["skip-backup"]],
    ["fails, newer backup → restore, probe again", { probe: "failed", remote: withBackup(NEWER) }, ["restore", "probe"]],
    ["fails, older backup → fail rather than lose the newer refresh token", { probe: "failed", remote: withBackup(OLDER) }, ["fail"]],
    ["fails, local entry malformed, older backup → restore", { probe: "failed", local: local({ x: 1 }), remote: withBackup(OLDER) }, ["restore", "probe"]],
    ["fails, no local file, good backup → restore", { probe: "failed", local: local(undefined, "absent"), remote: withBackup(OLDER) }, ["restore", "probe"]],
    ["fails, no backup → fail", { probe: "failed" }, ["fail"]],
    ["fails, malformed backup → fail", { probe: "failed", remote: remote({ claude_ai_oauth_json: JSON.stringify({ accessToken: "x" }) }) }, ["fail"]],
    ["fails, backup is the same credential → fail", { probe: "failed", remote: withBackup(LOCAL) }, ["fail"]],
    ["fails, credentials file not an object → fail, never overwrite", { probe: "failed", local: local(undefined, "unparseable"), remote: withBackup(OLDER) }, ["fail"]],
    ["fails after a restore → fail", { probe: "failed", restored: true, remote: withBackup(OLDER) }, ["fail"]],
    ["works after a restore → keep the (same) backup", { probe: "ok", restored: true, local: local(OLDER), remote: withBackup(OLDER) }, ["keep-remote:current"]],
  ])("%s", (_name, over, expected) => {
    expect(kinds(planSync(state(over)))).toEqual(expected);
  });

  it("writes exactly NAME=token and a newline for the setup token", () => {
    const [step] = planSync(state({ remote: remote({ setup_token: SETUP }) }));
    expect(step).toEqual({ do: "write-env", content: `CLAUDE_CODE_OAUTH_TOKEN=${SETUP}\n` });
  });

  it("backs up with cas = the version read, keeping every sibling field", () => {
    const steps = planSync(state({ probe: "ok", remote: { version: 7, data: { claude_ai_oauth_json: JSON.stringify(OLDER), other_tool: "keep me", n: 3 } } }));
    const backup = steps.find((s) => s.do === "backup");
    if (backup?.do !== "backup") throw new Error("no backup step");
    expect(backup.cas).toBe(7);
    expect(backup.data.other_tool).toBe("keep me");
    expect(backup.data.n).toBe(3);
    expect(JSON.parse(backup.data.claude_ai_oauth_json as string)).toEqual(LOCAL);
    expect(backup.data.credential_expires_at_ms).toBe(String(LOCAL.expiresAt));
    expect(backup.data.backed_up_at).toBe("2026-01-01T00:00:00.000Z");
  });

  it("restores the backed-up credential itself", () => {
    const steps = planSync(state({ probe: "failed", remote: withBackup(NEWER) }));
    expect(steps[0]).toEqual({ do: "restore", credential: NEWER });
  });

  it("never puts a credential or the setup token in a fail or warn message", () => {
    const all = [
      state({ probe: "failed", remote: withBackup(LOCAL) }),
      state({ probe: "failed", remote: remote({ claude_ai_oauth_json: JSON.stringify({ accessToken: "at-x", refreshToken: 5 }) }) }),
      state({ remote: remote({ setup_token: "sk-wrong-SECRET" }) }),
    ].flatMap((s) => planSync(s));
    const text = JSON.stringify(all.filter((s) => s.do === "fail" || s.do === "warn"));
    for (const secret of ["at-local", "rt-local", "at-x", "sk-wrong-SECRET"]) expect(text).not.toContain(secret);
    expect(all.some((s) => s.do === "fail")).toBe(true);
  });
});

describe("planBackup (vault backup)", () => {
  it.each<[string, RemoteState, boolean, string[]]>([
    ["no secret → backup", remote(), false, ["backup"]],
    ["older backup → backup", withBackup(OLDER), false, ["backup"]],
    ["newer backup → keep it", withBackup(NEWER), false, ["keep-remote:newer"]],
    ["newer backup, --force → backup", withBackup(NEWER), true, ["backup"]],
    ["same backup, --force → still nothing to write", withBackup(LOCAL), true, ["keep-remote:current"]],
    ["malformed backup → warn, replace", remote({ claude_ai_oauth_json: "{" }), false, ["warn", "backup"]],
  ])("%s", (_name, r, force, expected) => {
    expect(kinds(planBackup(local(LOCAL), r, NOW, force))).toEqual(expected);
  });

  it("--force over a newer backup writes with cas = the version read and keeps sibling fields", () => {
    const [step] = planBackup(local(LOCAL), withBackup(NEWER), NOW, true);
    if (step?.do !== "backup") throw new Error("no backup step");
    expect(step.cas).toBe(3);
    expect(step.data.sibling).toBe("kept");
    expect(JSON.parse(step.data.claude_ai_oauth_json as string)).toEqual(LOCAL);
  });
});

describe("helpers", () => {
  it("setupTokenOf refuses an empty token after the prefix and control characters", () => {
    expect(setupTokenOf(remote({ setup_token: "sk-ant-oat01-" }), "sk-ant-oat01-").kind).toBe("invalid");
    expect(setupTokenOf(remote({ setup_token: "sk-ant-oat01-a\nEVIL=1" }), "sk-ant-oat01-").kind).toBe("invalid");
    expect(setupTokenOf(remote({}), "sk-ant-oat01-").kind).toBe("absent");
  });
  it("checkLocal wants a valid, unexpired credential", () => {
    expect(checkLocal(local(LOCAL), NOW)).toBe(true);
    expect(checkLocal(local(cred(NOW - 1)), NOW)).toBe(false);
    expect(checkLocal(local({ nope: 1 }), NOW)).toBe(false);
    expect(checkLocal(local(undefined, "absent"), NOW)).toBe(false);
  });
  it("mergeBackup replaces only the three backup fields", () => {
    const merged = mergeBackup(remote({ setup_token: "", a: 1, claude_ai_oauth_json: "old" }), LOCAL, NOW);
    expect(Object.keys(merged).sort()).toEqual(["a", "backed_up_at", "claude_ai_oauth_json", "credential_expires_at_ms", "setup_token"]);
  });
});

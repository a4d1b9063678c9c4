import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/errors.ts";
import { resolveSources } from "../../src/token/sources.ts";

const env = { HOME: "/home/u" };

describe("resolveSources", () => {
  test.each([
    ["defaults", {}, env, { envName: "TOKENCTL_TOKEN", fdEnvName: "TOKENCTL_TOKEN_FD", file: "/home/u/.local/state/tokenctl/token" }],
    ["XDG_STATE_HOME", {}, { ...env, XDG_STATE_HOME: "/s" }, { file: "/s/tokenctl/token" }],
    ["relative XDG_STATE_HOME is ignored, per the spec", {}, { ...env, XDG_STATE_HOME: "rel" }, { file: "/home/u/.local/state/tokenctl/token" }],
    ["TOKENCTL_TOKEN_FILE", {}, { ...env, TOKENCTL_TOKEN_FILE: "/x/t" }, { file: "/x/t" }],
    ["flags win", { env: "A", fdEnv: "B", file: "~/t" }, { ...env, TOKENCTL_TOKEN_FILE: "/x/t" }, { envName: "A", fdEnvName: "B", file: "/home/u/t" }],
    [
      "claude-code preset",
      { preset: "claude-code" },
      env,
      {
        envName: "CLAUDE_CODE_SESSION_ACCESS_TOKEN",
        fdEnvName: "CLAUDE_CODE_WEBSOCKET_AUTH_FILE_DESCRIPTOR",
        file: "/home/claude/.claude/remote/.session_ingress_token",
        orgEnvName: "CLAUDE_CODE_ORGANIZATION_UUID",
      },
    ],
    ["preset file from its env var", { preset: "claude-code" }, { ...env, CLAUDE_SESSION_INGRESS_TOKEN_FILE: "/c/f" }, { file: "/c/f" }],
    ["flag beats preset", { preset: "claude-code", env: "MINE" }, env, { envName: "MINE" }],
  ] as const)("%s", (_name, flags, e, expected) => {
    expect(resolveSources(flags, e)).toMatchObject(expected);
  });

  test.each([
    [{ preset: "nope" }, /Unknown preset "nope"/],
    [{ env: "1BAD" }, /--env takes an environment variable name/],
    [{ fdEnv: "A-B" }, /--fd-env takes/],
    [{ file: "" }, /--file needs a path/],
  ])("rejects %j", (flags, message) => {
    expect(() => resolveSources(flags, env)).toThrow(UsageError);
    expect(() => resolveSources(flags, env)).toThrow(message);
  });
});

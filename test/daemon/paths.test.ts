import { expect, it } from "bun:test";
import { resolveDaemonPaths } from "../../src/daemon/paths.ts";

const HOME = "/home/u";
it.each([
  ["flag wins", { socket: "/a/s.sock" }, { TOKENCTL_SOCKET: "/b/s.sock", XDG_RUNTIME_DIR: "/run/user/1" }, "/a/s.sock", "/a/daemon.token", "flag"],
  ["then TOKENCTL_SOCKET", {}, { TOKENCTL_SOCKET: "/b/s.sock", XDG_RUNTIME_DIR: "/run/user/1" }, "/b/s.sock", "/b/daemon.token", "env"],
  ["then XDG_RUNTIME_DIR", {}, { XDG_RUNTIME_DIR: "/run/user/1" }, "/run/user/1/tokenctl/tokenctl.sock", "/run/user/1/tokenctl/daemon.token", "default"],
  ["then XDG_STATE_HOME/run", {}, { XDG_STATE_HOME: "/st" }, "/st/tokenctl/run/tokenctl.sock", "/st/tokenctl/run/daemon.token", "default"],
  ["then ~/.local/state", {}, {}, "/home/u/.local/state/tokenctl/run/tokenctl.sock", "/home/u/.local/state/tokenctl/run/daemon.token", "default"],
  ["~ expands", { socket: "~/x.sock" }, {}, "/home/u/x.sock", "/home/u/daemon.token", "flag"],
])("socket: %s", (_n, flags, env, socketPath, tokenFile, socketFrom) => {
  // The runtime dir counts as ours and 0700 here; the rule itself is tested below.
  expect(resolveDaemonPaths(flags, { HOME, ...env }, () => undefined)).toMatchObject({ socketPath, tokenFile, socketFrom });
});

it("falls back to the state dir, with a warning, when XDG_RUNTIME_DIR is not ours or not 0700", () => {
  const judge = (dir: string) => `XDG_RUNTIME_DIR=${dir} has mode 0777, not the 0700 the XDG spec requires`;
  const p = resolveDaemonPaths({}, { HOME, XDG_RUNTIME_DIR: "/run/user/1" }, judge);
  expect(p.socketPath).toBe("/home/u/.local/state/tokenctl/run/tokenctl.sock");
  expect(p.runtimeWarning).toBe("XDG_RUNTIME_DIR=/run/user/1 has mode 0777, not the 0700 the XDG spec requires; using /home/u/.local/state/tokenctl/run instead");
  expect(resolveDaemonPaths({}, { HOME, XDG_RUNTIME_DIR: "/run/user/1" }, () => undefined).runtimeWarning).toBeUndefined();
});

it.each([
  ["flag wins", { tokenFile: "/t/flag" }, { TOKENCTL_DAEMON_TOKEN_FILE: "/t/env" }, "/t/flag", "flag"],
  ["then TOKENCTL_DAEMON_TOKEN_FILE", {}, { TOKENCTL_DAEMON_TOKEN_FILE: "/t/env" }, "/t/env", "env"],
])("token file: %s", (_n, flags, env, tokenFile, tokenFrom) => {
  expect(resolveDaemonPaths({ socket: "/a/s.sock", ...flags }, { HOME, ...env })).toMatchObject({ tokenFile, tokenFrom });
});

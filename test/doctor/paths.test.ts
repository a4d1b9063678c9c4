/** evaluatePath and knownPaths: pure, table-driven. */
import { describe, expect, it } from "bun:test";
import { evaluatePath, knownPaths, shq, specForUnknown, type PathKind, type PathStat, type Status } from "../../src/doctor/paths.ts";

const ME = 1000;
const P = "/home/u/x";
const file = (mode: number, uid = ME): PathStat => ({ type: "file", mode, uid });
const dir = (mode: number, uid = ME): PathStat => ({ type: "dir", mode, uid });

const cases: [string, PathKind, PathStat | undefined, Status, string | undefined][] = [
  // kind, stat → status, fix
  ["private dir 0700", "private-dir", dir(0o700), "ok", undefined],
  ["private dir 0755", "private-dir", dir(0o755), "fail", `chmod 700 ${P}`],
  ["private dir 0750", "private-dir", dir(0o750), "fail", `chmod 700 ${P}`],
  ["private dir 0777", "private-dir", dir(0o777), "fail", `chmod 700 ${P}`],
  ["private dir 0500 (unusable)", "private-dir", dir(0o500), "fail", `chmod 700 ${P}`],
  ["private dir someone else's", "private-dir", dir(0o700, 0), "fail", `sudo chown ${ME} ${P}`],
  ["private dir is a file", "private-dir", file(0o600), "fail", `mv ${P} ${P}.old`],
  ["private dir absent", "private-dir", undefined, "skip", undefined],
  ["private dir via symlink to 0700", "private-dir", { type: "symlink", mode: 0o777, uid: ME, targetType: "dir", targetMode: 0o700, targetUid: ME }, "ok", undefined],
  ["private dir via symlink to 0755", "private-dir", { type: "symlink", mode: 0o777, uid: ME, targetType: "dir", targetMode: 0o755, targetUid: ME }, "fail", `chmod 700 ${P}`],
  ["shared dir 0755", "shared-dir", dir(0o755), "ok", undefined],
  ["shared dir 0775", "shared-dir", dir(0o775), "fail", `chmod go-w ${P}`],
  ["secret 0600", "secret-file", file(0o600), "ok", undefined],
  ["secret 0400", "secret-file", file(0o400), "fail", `chmod 600 ${P}`],
  ["secret 0644", "secret-file", file(0o644), "fail", `chmod 600 ${P}`],
  ["secret 0640", "secret-file", file(0o640), "fail", `chmod 600 ${P}`],
  ["secret 0602", "secret-file", file(0o602), "fail", `chmod 600 ${P}`],
  ["secret root's", "secret-file", file(0o600, 0), "fail", `sudo chown ${ME} ${P}`],
  ["secret symlink", "secret-file", { type: "symlink", mode: 0o777, uid: ME, targetType: "file", targetMode: 0o600, targetUid: ME }, "fail", `cp --remove-destination "$(readlink -f ${P})" ${P} && chmod 600 ${P}`],
  ["secret is a dir", "secret-file", dir(0o700), "fail", `mv ${P} ${P}.old`],
  ["secret absent", "secret-file", undefined, "skip", undefined],
  ["config 0600", "config-file", file(0o600), "ok", undefined],
  ["config 0644 (readable)", "config-file", file(0o644), "warn", `chmod 600 ${P}`],
  ["config 0664 (writable)", "config-file", file(0o664), "fail", `chmod 600 ${P}`],
  ["config dangling symlink", "config-file", { type: "symlink", mode: 0o777, uid: ME }, "fail", `rm ${P}`],
  ["lock 0600", "lock-file", file(0o600), "ok", undefined],
  ["lock 0644", "lock-file", file(0o644), "warn", `chmod 600 ${P}`],
  ["log 0644", "log-file", file(0o644), "warn", `chmod 600 ${P}`],
  ["socket 0600", "socket", { type: "socket", mode: 0o600, uid: ME }, "ok", undefined],
  ["socket 0666", "socket", { type: "socket", mode: 0o666, uid: ME }, "fail", `chmod 600 ${P}`],
  ["socket is a file", "socket", file(0o600), "fail", `mv ${P} ${P}.old`],
];

describe("evaluatePath", () => {
  it.each(cases)("%s", (_name, kind, st, status, fix) => {
    const c = evaluatePath({ path: P, kind, label: "x" }, st, ME);
    expect(c.status).toBe(status);
    expect(c.fix).toBe(fix);
    expect(c.detail.startsWith(`${P}: `)).toBe(true);
  });

  it("names the mode it found and the one it expects", () => {
    const c = evaluatePath({ path: P, kind: "secret-file", label: "token file" }, file(0o644), ME);
    expect(c.detail).toBe(`${P}: mode 0644: group/others can read it; expected 0600`);
    expect(evaluatePath({ path: P, kind: "private-dir", label: "d" }, dir(0o757), ME).detail).toContain("can write to it");
  });

  it("quotes paths with spaces in the fix", () => {
    const c = evaluatePath({ path: "/home/u/my dir", kind: "private-dir", label: "d" }, dir(0o755), ME);
    expect(c.fix).toBe("chmod 700 '/home/u/my dir'");
  });
});

describe("shq", () => {
  it.each([
    ["/a/b.json", "/a/b.json"],
    ["/a b", "'/a b'"],
    ["/it's", `'/it'\\''s'`],
    ["$(x)", "'$(x)'"],
  ])("%s", (input, out) => expect(shq(input)).toBe(out));
});

describe("knownPaths", () => {
  const env = { HOME: "/h", XDG_CONFIG_HOME: "/c", XDG_STATE_HOME: "/s" };
  const daemon = { socketPath: "/r/tokenctl/tokenctl.sock", tokenFile: "/r/tokenctl/daemon.token" };

  it("lists the XDG files, the daemon's run dir and each profile's lock", () => {
    const specs = knownPaths({ env, daemon, keychainProfiles: ["default", "work"], fileStores: [] });
    const byPath = Object.fromEntries(specs.map((s) => [s.path, s.kind]));
    expect(byPath).toMatchObject({
      "/c/tokenctl": "private-dir",
      "/c/tokenctl/config.json": "config-file",
      "/c/tokenctl/credentials.json": "secret-file",
      "/s/tokenctl": "private-dir",
      "/s/tokenctl/token": "secret-file",
      "/s/tokenctl/work.lock": "lock-file",
      "/s/tokenctl/vault-sync": "private-dir",
      "/r/tokenctl": "private-dir",
      "/r/tokenctl/tokenctl.sock": "socket",
      "/r/tokenctl/daemon.token": "secret-file",
    });
  });

  it("adds file stores (parent as a shared dir), the Vault token file and TOKENCTL_TOKEN_FILE; no path twice", () => {
    const specs = knownPaths({
      env: { ...env, TOKENCTL_TOKEN_FILE: "/t/tok" },
      daemon,
      keychainProfiles: [],
      fileStores: ["/h/.claude/.credentials.json", "/c/tokenctl/credentials.json"],
      vaultTokenFile: "/c/tokenctl/vault.token",
      vaultCredentials: "/h/.claude/.credentials.json",
    });
    const byPath = Object.fromEntries(specs.map((s) => [s.path, s.kind]));
    expect(byPath["/h/.claude"]).toBe("shared-dir");
    expect(byPath["/h/.claude/.credentials.json"]).toBe("secret-file");
    expect(byPath["/c/tokenctl/vault.token"]).toBe("secret-file");
    expect(byPath["/t/tok"]).toBe("secret-file");
    expect(new Set(specs.map((s) => s.path)).size).toBe(specs.length);
    // The config dir keeps its private-dir spec though a file store lives in it.
    expect(byPath["/c/tokenctl"]).toBe("private-dir");
  });
});

describe("specForUnknown", () => {
  it.each([
    ["/s/tokenctl/sessions.json", "file", "secret-file"],
    ["/s/tokenctl/.sessions.json.ab12.tmp", "file", "secret-file"],
    ["/s/tokenctl/other.lock", "file", "lock-file"],
    ["/s/tokenctl/x.log.3", "file", "log-file"],
    ["/s/tokenctl/sub", "dir", "private-dir"],
    ["/s/tokenctl/other.sock", "socket", "socket"],
  ] as const)("%s", (path, type, kind) => expect(specForUnknown(path, type).kind).toBe(kind));
});

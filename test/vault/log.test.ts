import { describe, expect, it } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileLog, findOnPath, formatLine, lastResult, mask, syslogViaLogger } from "../../src/vault/log.ts";
import { tempDir } from "../support/tmp.ts";

describe("sync log", () => {
  it("formats `<ISO time> LEVEL message` on one line", () => {
    expect(formatLine(Date.parse("2026-01-02T03:04:05Z"), "RECOVERED", "a\nb")).toBe("2026-01-02T03:04:05.000Z RECOVERED a b");
  });

  it("masks every registered secret in the file and the syslog copy", async () => {
    const dir = tempDir();
    const sent: string[] = [];
    const log = fileLog({ file: join(dir, "sync.log"), now: () => 0, syslog: async (level, line) => void sent.push(`${level} ${line}`) });
    log.addSecret("hvs.MARKER-1");
    log.addSecret(undefined);
    await log.write("WARN", "token hvs.MARKER-1 leaked");
    const text = readFileSync(join(dir, "sync.log"), "utf8");
    expect(text).toBe("1970-01-01T00:00:00.000Z WARN token [redacted] leaked\n");
    expect(sent).toEqual(["WARN WARN token [redacted] leaked"]);
    expect(statSync(join(dir, "sync.log")).mode & 0o777).toBe(0o600);
    expect(mask("abc", ["ab"])).toBe("abc");
  });

  it("hands logger(1) the line on stdin, never in argv, with a priority per level", async () => {
    const dir = tempDir();
    const fake = join(dir, "logger");
    writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/argv"\ncat > "${dir}/stdin"\n`);
    chmodSync(fake, 0o700);
    await syslogViaLogger("FAIL", "FAIL something about /path", fake);
    expect(readFileSync(join(dir, "argv"), "utf8")).toBe("-t\ntokenctl-vault-sync\n-p\nuser.err\n");
    expect(readFileSync(join(dir, "stdin"), "utf8")).toBe("FAIL something about /path\n");
  });

  it("finds logger(1) on PATH as the shell would: the first executable file", () => {
    const dir = tempDir();
    for (const d of ["a", "b", "c", "d"]) mkdirSync(join(dir, d));
    writeFileSync(join(dir, "a", "logger"), "not executable", { mode: 0o600 });
    mkdirSync(join(dir, "b", "logger"));
    writeFileSync(join(dir, "c", "logger"), "#!/bin/sh\n", { mode: 0o700 });
    writeFileSync(join(dir, "d", "logger"), "#!/bin/sh\n", { mode: 0o700 });
    const path = ["", join(dir, "a"), join(dir, "b"), join(dir, "c"), join(dir, "d")].join(":");
    expect(findOnPath("logger", path)).toBe(join(dir, "c", "logger"));
    expect(findOnPath("logger", join(dir, "a"))).toBeNull();
    expect(findOnPath("logger", "")).toBeNull();
  });

  it("treats a missing logger as nothing to do", async () => {
    await syslogViaLogger("OK", "x", null);
    await syslogViaLogger("OK", "x", "/nonexistent/logger");
  });

  it("finds the last result line", () => {
    const text = "2026-01-01T00:00:00.000Z OK first\ngarbage\n2026-01-01T00:01:00.000Z SKIP another sync is already running\n\n";
    expect(lastResult(text)).toEqual({ time: "2026-01-01T00:01:00.000Z", level: "SKIP", message: "another sync is already running" });
    expect(lastResult("")).toBeUndefined();
  });
});

describe("log size", () => {
  it("moves a log over 1 MiB to sync.log.1 before appending", async () => {
    const dir = tempDir();
    const file = join(dir, "sync.log");
    writeFileSync(file, "x".repeat(1024 * 1024 + 1), { mode: 0o600 });
    await fileLog({ file, now: () => 0, syslog: false }).write("OK", "fresh");
    expect(readFileSync(file, "utf8")).toBe("1970-01-01T00:00:00.000Z OK fresh\n");
    expect(statSync(`${file}.1`).size).toBe(1024 * 1024 + 1);
  });

  it("reads only the tail of the log for status", async () => {
    const { readTail } = await import("../../src/vault/log.ts");
    const dir = tempDir();
    writeFileSync(join(dir, "l"), `${"a".repeat(100)}\n2026-01-01T00:00:00.000Z OK last\n`);
    expect(lastResult(readTail(join(dir, "l"), 40))?.message).toBe("last");
    expect(readTail(join(dir, "missing"))).toBe("");
  });
});

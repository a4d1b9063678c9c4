/**
 * The OS keychain, the same item from every runtime:
 * - Bun: Bun.secrets (libsecret on Linux, Keychain Services on macOS).
 * - Node and Deno on Linux: `secret-tool` (libsecret-tools) on the item Bun.secrets writes: schema
 *   `com.oven-sh.bun.Secret`, attributes `service` and `account`, label `service/account`.
 * - Node and Deno on macOS: `security` on the generic password Bun.secrets writes (service and
 *   account). The secret goes in on stdin (`security -i`, hex with -X), never in argv.
 * - Anything else: backend "none"; every call fails saying why, and the caller falls back to its
 *   file store with its usual warning.
 * Calls have no deadline of their own: the caller races them against its timeout; the tools are
 * killed after TOOL_TIMEOUT_MS so none outlives a locked keyring's prompt for long.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { type Platform, platform } from "./platform.ts";

export interface KeychainItem {
  service: string;
  name: string;
}

/** The Bun.secrets-shaped API every backend offers. */
export interface Keychain {
  /** "bun.secrets", "secret-tool", "security" or "none". */
  readonly backend: "bun.secrets" | "secret-tool" | "security" | "none";
  /** Why there is no keychain (backend "none"). */
  readonly reason?: string;
  /** The secret, or null when there is no such item. */
  get(item: KeychainItem): Promise<string | null>;
  /** Create or replace the item. */
  set(item: KeychainItem & { value: string }): Promise<void>;
  /** Remove the item; false when there was none. */
  delete(item: KeychainItem): Promise<boolean>;
}

/** The schema and attribute names Bun.secrets uses with libsecret (checked against a real gnome-keyring). */
export const BUN_SECRET_SCHEMA = "com.oven-sh.bun.Secret";
const TOOL_TIMEOUT_MS = 10_000;

/** The result of running a keychain tool. */
export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}
/** Runs a tool with `input` on its stdin; injectable for tests. Rejects when it cannot be started. */
export type RunTool = (argv: string[], input?: string) => Promise<ToolResult>;

const runTool: RunTool = (argv, input) =>
  new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), TOOL_TIMEOUT_MS);
    child.stdout!.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    child.stdin!.on("error", () => {}); // the tool may exit before reading all of it
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin!.end(input ?? "");
  });

/** A tool's complaint, fit for a message: printable, one line, capped. It never holds the secret. */
function said(r: ToolResult): string {
  const text = r.stderr.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, 300);
  return text || `exit status ${r.status}`;
}

/** Is `command` an executable on PATH? */
export function onPath(command: string, path = process.env.PATH ?? ""): boolean {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/** Secret Service through secret-tool, on the item Bun.secrets reads and writes. */
export function secretToolKeychain(run: RunTool = runTool): Keychain {
  const attrs = (i: KeychainItem) => ["xdg:schema", BUN_SECRET_SCHEMA, "service", i.service, "account", i.name];
  const get = async (item: KeychainItem): Promise<string | null> => {
    const r = await run(["secret-tool", "lookup", ...attrs(item)]);
    if (r.status === 0) return r.stdout;
    // Not found: exit 1 and nothing said. Anything said is a failure (no bus, locked, no service).
    if (r.status === 1 && r.stderr.trim() === "") return null;
    throw new Error(`secret-tool lookup failed: ${said(r)}`);
  };
  return {
    backend: "secret-tool",
    get,
    async set(item) {
      const r = await run(["secret-tool", "store", `--label=${item.service}/${item.name}`, ...attrs(item)], item.value);
      if (r.status !== 0) throw new Error(`secret-tool store failed: ${said(r)}`);
    },
    async delete(item) {
      if ((await get(item)) === null) return false;
      const r = await run(["secret-tool", "clear", ...attrs(item)]);
      if (r.status !== 0) throw new Error(`secret-tool clear failed: ${said(r)}`);
      return true;
    },
  };
}

/** security(1)'s status for "The specified item could not be found in the keychain." */
const ERR_SEC_ITEM_NOT_FOUND = 44;

/**
 * The password from `security find-generic-password -g`'s stderr: `password: "text"` when it is
 * printable, `password: 0xHEX  "escaped"` when not (so the two never mix up), `password: ` when empty.
 */
export function parseSecurityPassword(stderr: string): string | null {
  const line = stderr.split("\n").find((l) => l.startsWith("password:"));
  if (line === undefined) return null;
  const hex = /^password: 0x([0-9A-Fa-f]*)(?:\s|$)/.exec(line);
  if (hex) return Buffer.from(hex[1]!, "hex").toString("utf8");
  const first = line.indexOf('"');
  const last = line.lastIndexOf('"');
  return first >= 0 && last > first ? line.slice(first + 1, last) : "";
}

/** A service or account name `security -i` can take as one word. */
function securityWord(what: string, value: string): string {
  if (!/^[\x21-\x7e]+$/.test(value) || /["'\\]/.test(value)) throw new Error(`the keychain ${what} must be printable without spaces or quotes`);
  return value;
}

/** macOS Keychain through security(1), on the generic password Bun.secrets reads and writes. */
export function securityKeychain(run: RunTool = runTool): Keychain {
  const get = async (item: KeychainItem): Promise<string | null> => {
    const r = await run(["security", "find-generic-password", "-s", item.service, "-a", item.name, "-g"]);
    if (r.status === ERR_SEC_ITEM_NOT_FOUND) return null;
    if (r.status !== 0) throw new Error(`security find-generic-password failed: ${said({ ...r, stderr: r.stderr.replace(/^password:.*$/m, "") })}`);
    return parseSecurityPassword(r.stderr);
  };
  return {
    backend: "security",
    get,
    async set(item) {
      const service = securityWord("service", item.service);
      const name = securityWord("account", item.name);
      const hex = Buffer.from(item.value, "utf8").toString("hex");
      // -i reads commands from stdin, so the secret never appears in any process's argv.
      const r = await run(["security", "-i"], `add-generic-password -U -s ${service} -a ${name} -l ${service}/${name} -X ${hex}\n`);
      // `security -i` may exit 0 whatever its commands did: read the item back to know.
      if (r.status !== 0 || (await get(item)) !== item.value) throw new Error(`security add-generic-password failed: ${said({ ...r, stderr: r.stderr.replaceAll(hex, "…") })}`);
    },
    async delete(item) {
      const r = await run(["security", "delete-generic-password", "-s", item.service, "-a", item.name]);
      if (r.status === ERR_SEC_ITEM_NOT_FOUND) return false;
      if (r.status !== 0) throw new Error(`security delete-generic-password failed: ${said(r)}`);
      return true;
    },
  };
}

/** No keychain: every call fails with `reason`. */
export function noKeychain(reason: string): Keychain {
  const fail = async (): Promise<never> => {
    throw new Error(reason);
  };
  return { backend: "none", reason, get: fail, set: fail, delete: fail };
}

interface BunSecrets {
  get(o: KeychainItem): Promise<string | null>;
  set(o: KeychainItem & { value: string }): Promise<void>;
  delete(o: KeychainItem): Promise<boolean>;
}

export interface KeychainOptions {
  /** Is this command on PATH? Injectable for tests. */
  has?: (command: string) => boolean;
  run?: RunTool;
  bunSecrets?: BunSecrets;
}

/** The keychain for this platform (see the module comment). */
export function keychain(p: Platform = platform(), options: KeychainOptions = {}): Keychain {
  if (p.runtime === "bun") {
    const secrets = options.bunSecrets ?? (globalThis as { Bun?: { secrets?: BunSecrets } }).Bun?.secrets;
    if (secrets)
      return {
        backend: "bun.secrets",
        get: (i) => secrets.get({ service: i.service, name: i.name }),
        set: (i) => secrets.set({ service: i.service, name: i.name, value: i.value }),
        delete: (i) => secrets.delete({ service: i.service, name: i.name }),
      };
  }
  const has = options.has ?? ((c: string) => onPath(c));
  if (p.os === "darwin") return has("security") ? securityKeychain(options.run) : noKeychain("security(1) was not found on PATH");
  if (p.os === "linux" || p.os === "freebsd" || p.os === "openbsd")
    return has("secret-tool")
      ? secretToolKeychain(options.run)
      : noKeychain("secret-tool was not found on PATH: install libsecret-tools (Debian, Ubuntu) or libsecret (Fedora, Arch) to use the Secret Service outside the tokenctl binary");
  return noKeychain(`no keychain is supported on ${p.os}`);
}

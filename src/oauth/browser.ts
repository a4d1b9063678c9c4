/**
 * Opening the login URL: `$BROWSER` first (as git, gh and Python's webbrowser do), then the
 * platform's opener (`xdg-open`, `open`). And whether this session has a display at all, to
 * suggest the device flow when it has none.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import type { Env } from "../fs/paths.ts";

/**
 * The commands to try, in order, each with the URL in place. `$BROWSER` is a ':'-separated list
 * (Python's webbrowser splits it on os.pathsep); in an entry, `%s` stands for the URL, otherwise
 * the URL is appended. An entry may carry arguments, split on blanks.
 */
export function browserCommands(url: string, env: Env = process.env, platform: string = process.platform): string[][] {
  const out: string[][] = [];
  for (const entry of (env.BROWSER ?? "").split(":")) {
    const words = entry.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const substituted = words.some((w) => w.includes("%s"));
    out.push(substituted ? words.map((w) => w.replaceAll("%s", url)) : [...words, url]);
  }
  if (platform === "darwin") out.push(["open", url]);
  else if (platform !== "win32") out.push(["xdg-open", url]);
  return out;
}

/** The executable `cmd` resolves to on PATH (or itself when it has a slash), if there is one. */
export function findExecutable(cmd: string, env: Env = process.env): string | undefined {
  const candidates = cmd.includes("/") ? [cmd] : (env.PATH ?? "").split(delimiter).filter((d) => isAbsolute(d)).map((d) => join(d, cmd));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not here; try the next directory.
    }
  }
  return undefined;
}

/**
 * Start the first browser command that exists, detached; returns its name (never the URL, which
 * must not reach a log), or undefined when there is none. Never fails the login over it: the URL
 * is printed anyway.
 */
export function openBrowser(url: string, env: Env = process.env, platform: string = process.platform): string | undefined {
  for (const [cmd, ...args] of browserCommands(url, env, platform)) {
    const path = findExecutable(cmd!, env);
    if (!path) continue;
    try {
      // The URL goes in argv: it holds no secret (the PKCE verifier stays here; state is public).
      const child = spawn(path, args, { stdio: "ignore", detached: true, env: env as NodeJS.ProcessEnv });
      child.on("error", () => {
        // Started and failed at once: the printed URL is the way in.
      });
      child.unref();
      return cmd;
    } catch {
      // Could not start it: try the next one.
    }
  }
  return undefined;
}

/**
 * Why a browser on this machine probably cannot be shown, or undefined when it can: an SSH
 * session (SSH_CONNECTION), or Linux/BSD without DISPLAY and WAYLAND_DISPLAY.
 */
export function noDisplayReason(env: Env = process.env, platform: string = process.platform): string | undefined {
  if (env.SSH_CONNECTION) return "this is an SSH session";
  if (platform === "darwin" || platform === "win32") return undefined;
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return "there is no display (DISPLAY and WAYLAND_DISPLAY are unset)";
  return undefined;
}

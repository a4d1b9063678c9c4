/** Doctor's file rows: every known path and our private dirs' contents, the runtime dir, path trust. */
import { lstatSync, statSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { errnoCode, TokenctlError } from "../errors.ts";
import { runtimeDirRefusal, type Env } from "../fs/paths.ts";
import { checkTrustedDirs, nearestExisting, runtimeDirProblem } from "../fs/trust.ts";
import { messageOf, type DoctorDeps } from "./deps.ts";
import { evaluatePath, shq, specForUnknown, type Check, type PathSpec, type PathStat } from "./paths.ts";

/** Judge every known path, then anything else found in our private dirs (one level down). */
export function checkPaths(specs: PathSpec[], deps: Pick<DoctorDeps, "stat" | "readdir" | "uid">): Check[] {
  const out: Check[] = [];
  const known = new Set(specs.map((s) => s.path));
  const absentDirs = new Set<string>();
  const queue = [...specs.map((s) => ({ spec: s, depth: 0 }))];
  while (queue.length) {
    const { spec, depth } = queue.shift()!;
    let st: PathStat | undefined;
    try {
      st = deps.stat(spec.path);
    } catch (e) {
      out.push({ name: spec.label, status: "fail", detail: `${spec.path}: cannot stat (${errnoCode(e) ?? messageOf(e)})` });
      continue;
    }
    // Locks, logs and the socket come and go, and nothing lives in a dir that is not there:
    // absent, they are not worth a row.
    if (!st && (spec.kind === "private-dir" || spec.kind === "shared-dir")) absentDirs.add(spec.path);
    if (!st && (spec.kind === "lock-file" || spec.kind === "log-file" || spec.kind === "socket" || absentDirs.has(dirname(spec.path)))) continue;
    out.push(evaluatePath(spec, st, deps.uid));
    // Sweep our own private dirs for files no spec names (sessions.json, leftovers): each must be private too.
    if (spec.kind !== "private-dir" || depth > 1 || !st || (st.type !== "dir" && st.targetType !== "dir")) continue;
    let names: string[];
    try {
      names = deps.readdir(spec.path).sort();
    } catch {
      continue; // the dir row above already says what is wrong with it
    }
    for (const name of names) {
      const path = join(spec.path, name);
      if (known.has(path)) continue;
      known.add(path);
      let type: PathStat["type"] = "file";
      try {
        type = deps.stat(path)?.type ?? "file";
      } catch {
        // judged (and reported) when its own spec is evaluated
      }
      queue.push({ spec: specForUnknown(path, type), depth: depth + 1 });
    }
  }
  return out;
}

/** Judge $XDG_RUNTIME_DIR with doctor's stat: ours, a directory, mode 0700 (the XDG spec's MUST). */
export function runtimeJudge(deps: Pick<DoctorDeps, "stat" | "uid">): (dir: string) => string | undefined {
  return (dir) =>
    runtimeDirProblem(
      dir,
      (p) => {
        const st = deps.stat(p);
        if (!st) throw Object.assign(new Error("missing"), { code: "ENOENT" });
        const type = st.type === "symlink" ? st.targetType : st.type;
        const mode = st.type === "symlink" ? (st.targetMode ?? 0) : st.mode;
        const uid = st.type === "symlink" ? (st.targetUid ?? -1) : st.uid;
        return { uid, mode, isDirectory: () => type === "dir" };
      },
      deps.uid,
    );
}

/** The XDG_RUNTIME_DIR row: used, or set but refused (and the state dir used instead), or unset. */
export function checkRuntimeDir(env: Env, judge: (dir: string) => string | undefined, fallback: string): Check {
  const name = "runtime dir";
  if (!env.XDG_RUNTIME_DIR) return { name, status: "skip", detail: `XDG_RUNTIME_DIR is not set; the daemon socket lives in ${fallback}` };
  const problem = runtimeDirRefusal(env, judge);
  if (!problem) return { name, status: "ok", detail: `XDG_RUNTIME_DIR=${env.XDG_RUNTIME_DIR}: yours, 0700` };
  return {
    name,
    status: "warn",
    detail: `${problem}; tokenctl uses ${fallback} instead`,
    fix: `unset XDG_RUNTIME_DIR   # or fix it: chown $(id -u) ${shq(env.XDG_RUNTIME_DIR)} && chmod 700 ${shq(env.XDG_RUNTIME_DIR)}`,
  };
}

/** One row per directory tree: every directory from it up to `/` must be ours or root's and not writable by others. */
export function checkPathTrust(dirs: { label: string; dir: string }[], check: (dir: string, what: string) => void): Check[] {
  return dirs.map(({ label, dir }) => {
    const name = `path trust: ${label}`;
    try {
      check(dir, `the ${label} ${dir}`);
      return { name, status: "ok", detail: `${dir}: every directory up to / is yours or root's and not writable by others` };
    } catch (e) {
      return { name, status: "fail", detail: messageOf(e), ...(e instanceof TokenctlError && e.hint ? { fix: e.hint } : {}) };
    }
  });
}

/** The real path-trust check, on the nearest existing ancestor. */
export const realDirTrust = (dir: string, what: string) => checkTrustedDirs(nearestExisting(dir), what);

/** lstat, plus stat through a symlink; undefined when missing. */
export function statPath(path: string): PathStat | undefined {
  let l: Stats;
  try {
    l = lstatSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    throw e;
  }
  const typeOf = (s: Stats): PathStat["type"] =>
    s.isSymbolicLink() ? "symlink" : s.isDirectory() ? "dir" : s.isFile() ? "file" : s.isSocket() ? "socket" : "other";
  const st: PathStat = { type: typeOf(l), mode: l.mode & 0o7777, uid: l.uid };
  if (st.type === "symlink") {
    try {
      const t = statSync(path);
      st.targetType = typeOf(t);
      st.targetMode = t.mode & 0o7777;
      st.targetUid = t.uid;
    } catch {
      // dangling: targetType stays undefined
    }
  }
  return st;
}

/** Shell quoting for the command lines tokenctl prints (Fix lines, hints), so they run as pasted. */

/** Quote a word for a POSIX shell command line when it needs it. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./~-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

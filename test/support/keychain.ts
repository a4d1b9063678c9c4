/**
 * Is a real OS keychain usable here? A Bun.secrets set/get/delete round trip with a deadline.
 * Headless Linux without an unlocked Secret Service fails ("Cannot autolaunch D-Bus", "libsecret
 * not available") or hangs; the keychain tests then skip, saying why.
 */
export async function keychainUnavailableReason(timeoutMs = 3000): Promise<string | undefined> {
  const id = { service: "tokenctl-test-probe", name: `probe-${process.pid}` };
  const roundTrip = async () => {
    await Bun.secrets.set({ ...id, value: "probe" });
    const got = await Bun.secrets.get(id);
    await Bun.secrets.delete(id);
    if (got !== "probe") throw new Error(`round trip returned ${got === null ? "nothing" : "another value"}`);
  };
  try {
    await Promise.race([roundTrip(), Bun.sleep(timeoutMs).then(() => Promise.reject(new Error(`no answer within ${timeoutMs} ms`)))]);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Say visibly, once per file, why keychain tests are skipped. */
export function announceSkip(reason: string | undefined, file: string): void {
  if (reason)
    console.warn(
      `[${file}] SKIPPING keychain tests: no working Secret Service (${reason}). Run under: dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets; …'`,
    );
}

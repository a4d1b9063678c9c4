/**
 * `vault sync --dry-run`: what a sync would do, with nothing changed (STYLE habit 7).
 *
 * The very same sync (syncSteps) runs against stand-ins for everything that writes: Vault reads go
 * through, while renew-self, the KV write, file writes and log lines are recorded as the plan. The
 * probe is not run (a real probe may refresh the credential and rewrite the file): the local
 * credential is judged by shape and expiry, as a sync without --probe does. No lock is taken and
 * nothing is logged, so the state dir is not even created.
 */
import type { KvSecret, VaultApi } from "./client.ts";
import { beforeRestorePath, type SyncFiles } from "./files.ts";
import { mask, type Level, type SyncLog } from "./log.ts";
import { checkLocal, type LocalState } from "./plan.ts";
import { checkIdentity, LoginRequiredError, syncSteps, type SyncDeps, type SyncOptions, type SyncResult } from "./sync.ts";

/** One change the sync would make, described without secrets. */
export interface PlannedStep {
  do: "renew" | "write-env" | "remove-env" | "warn" | "probe" | "restore" | "backup";
  detail: string;
}

/** The dry run's result: the changes in order, and the line the real run would end with. */
export interface SyncPlan {
  dryRun: true;
  mode: SyncResult["mode"];
  steps: PlannedStep[];
  /** The real run's last log line, and its exit code (a FAIL ends in 4). */
  outcome: { level: Level; message: string; exitCode: number };
}

/** Plan a sync: reads Vault and the local files, writes nothing anywhere. */
export async function dryRunSync(
  options: SyncOptions,
  deps: Pick<SyncDeps, "vault" | "files" | "now"> & { probeConfigured?: boolean },
): Promise<SyncPlan> {
  const steps: PlannedStep[] = [];
  const secrets = new Set<string>();
  const now = deps.now ?? Date.now;
  let lastRead: KvSecret | undefined;

  const vault: VaultApi = {
    lookupSelf: () => deps.vault.lookupSelf(),
    renewSelf: async () => void steps.push({ do: "renew", detail: "renew the Vault token" }),
    readKv: async (mount, path) => (lastRead = await deps.vault.readKv(mount, path)),
    writeKv: async (mount, path, _data, cas) => {
      steps.push({ do: "backup", detail: `write the local credential to Vault ${mount}/${path} as version ${cas + 1} (check-and-set ${cas}; other fields kept)` });
      return cas + 1;
    },
  };
  // syncSteps logs one WARN line right after removing the env file or restoring: the step says it already.
  let effectLine = false;
  let env = deps.files.readEnv();
  let restored: LocalState | undefined;
  const files: SyncFiles = {
    readLocal: () => restored ?? deps.files.readLocal(),
    readEnv: () => env,
    writeEnv(content) {
      env = content;
      steps.push({ do: "write-env", detail: `write ${options.envFile} (${options.settings.envName}=the setup token from Vault)` });
    },
    removeEnv() {
      env = undefined;
      effectLine = true;
      steps.push({ do: "remove-env", detail: `remove ${options.envFile}` });
    },
    restore(credential) {
      restored = { file: "present", entry: { ok: true, credential } };
      effectLine = true;
      steps.push({
        do: "restore",
        detail: `put the Vault backup (version ${lastRead?.version ?? 0}) into ${options.credentials} at ${options.key}, keeping the file it replaces as ${beforeRestorePath(options.stateDir)}`,
      });
    },
  };
  const log: SyncLog = {
    addSecret: (value) => void (value && secrets.add(value)),
    write: async (_level, message) => {
      if (effectLine) effectLine = false;
      else steps.push({ do: "warn", detail: message });
    },
  };
  const probe = async () => {
    const works = checkLocal(files.readLocal(), now());
    const how = deps.probeConfigured ? "by shape and expiry (a dry run does not run --probe)" : "by shape and expiry";
    steps.push({ do: "probe", detail: `judge the local credential ${how}: ${works ? "works" : "does not work"}` });
    return works;
  };

  const dry = { vault, files, log, probe, now };
  let plan: SyncPlan;
  try {
    await checkIdentity(options, dry);
    const result = await syncSteps(options, dry);
    plan = { dryRun: true, mode: result.mode, steps, outcome: { level: result.level, message: result.message, exitCode: 0 } };
  } catch (e) {
    // A planned failure is the plan's outcome; anything else (Vault unreachable, foreign token) fails the dry run.
    if (!(e instanceof LoginRequiredError)) throw e;
    plan = { dryRun: true, mode: "rotating", steps, outcome: { level: "FAIL", message: e.message, exitCode: e.exitCode } };
  }
  // Built from paths, versions and fixed texts only; masked as well, as the log is.
  for (const s of plan.steps) s.detail = mask(s.detail, secrets);
  plan.outcome.message = mask(plan.outcome.message, secrets);
  return plan;
}

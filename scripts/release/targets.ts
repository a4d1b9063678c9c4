/** The release targets: our name, Bun's --target, and the npm package that holds that Bun runtime. */
export interface Target {
  /** Our name, in the file name tokenctl-<name> and in `--version`. */
  name: string;
  /** `bun build --target`. */
  bunTarget: string;
  /** The npm package with the Bun runtime for it (package-lock.json pins its version and integrity). */
  runtimePackage: string;
  /** What `file` and our header check expect. */
  format: "elf" | "macho";
  arch: "x64" | "arm64";
}

export const TARGETS: readonly Target[] = [
  { name: "linux-x64", bunTarget: "bun-linux-x64", runtimePackage: "@oven/bun-linux-x64", format: "elf", arch: "x64" },
  { name: "linux-arm64", bunTarget: "bun-linux-arm64", runtimePackage: "@oven/bun-linux-aarch64", format: "elf", arch: "arm64" },
  { name: "linux-x64-musl", bunTarget: "bun-linux-x64-musl", runtimePackage: "@oven/bun-linux-x64-musl", format: "elf", arch: "x64" },
  { name: "darwin-x64", bunTarget: "bun-darwin-x64", runtimePackage: "@oven/bun-darwin-x64", format: "macho", arch: "x64" },
  { name: "darwin-arm64", bunTarget: "bun-darwin-arm64", runtimePackage: "@oven/bun-darwin-aarch64", format: "macho", arch: "arm64" },
];

/** The targets named in a comma list (all when empty); throws on an unknown name. */
export function pickTargets(list: string | undefined): Target[] {
  if (!list) return [...TARGETS];
  return list.split(",").map((n) => {
    const t = TARGETS.find((x) => x.name === n.trim());
    if (!t) throw new Error(`unknown target "${n.trim()}" (known: ${TARGETS.map((x) => x.name).join(", ")})`);
    return t;
  });
}

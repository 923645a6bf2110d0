/**
 * The system tools a few unit suites call when the machine has them (`npm test` installs
 * nothing): a suite that needs a missing one is skipped with a one-line reason and the command
 * that installs it. Under CI (`CI` set, as GitHub Actions and `.ci/run` set it) a missing tool
 * is an error instead, because a skipped test proves nothing; `.ci/run` installs them first
 * (`scripts/ensure-tools.sh --unit`).
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** How to install each tool: Debian/Ubuntu, and Homebrew where it has it. */
export const INSTALL: Record<string, string> = {
  shellcheck: "apt-get install shellcheck, or brew install shellcheck",
  // Debian's busybox-static; Homebrew has no busybox (it is a Linux tool).
  busybox: "apt-get install busybox-static",
  jq: "apt-get install jq, or brew install jq",
  restic: "apt-get install restic, or brew install restic",
  sha256sum: "apt-get install coreutils, or brew install coreutils",
  "ssh-keygen": "apt-get install openssh-client",
  "ssh-add": "apt-get install openssh-client",
  "ssh-agent": "apt-get install openssh-client",
  // test/docker-proxy.test.ts runs the per-job Docker API proxy's config in it
  haproxy: "apt-get install haproxy, or brew install haproxy",
  // test/capture.test.ts runs the sqlite capture's VACUUM INTO and integrity_check with it
  sqlite3: "apt-get install sqlite3",
};

/** Where a spawn of `name` would find it: the first executable file of that name on PATH. */
export function which(name: string, path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** True under CI, where a skip is a failure. */
export const inCi = (env: NodeJS.ProcessEnv = process.env): boolean =>
  !!env.CI && env.CI !== "false" && env.CI !== "0";

const said = new Set<string>();

/**
 * The tools of `names` that are missing, for `describe.skipIf(lacks(…))`: prints one line per
 * missing tool (once per file) saying what is skipped and how to install it; under CI it throws,
 * so the suite fails instead of being skipped.
 */
export function lacks(...names: string[]): boolean {
  const missing = names.filter((n) => !which(n));
  if (missing.length === 0) return false;
  const how = missing.map((n) => `${n} (${INSTALL[n] ?? "install it"})`).join(", ");
  if (inCi()) {
    throw new Error(
      `CI: missing ${how}; a skipped test proves nothing, so CI fails instead (scripts/ensure-tools.sh --unit installs them)`,
    );
  }
  const line = `skipped: needs ${how}`;
  if (!said.has(line)) {
    said.add(line);
    console.warn(line);
  }
  return true;
}

/**
 * Global setup of the end-to-end suite: installs the Debian tools (scripts/ensure-tools.sh
 * --e2e), builds the lab (scripts/lab/lab.sh up) and returns its teardown, which runs even
 * when a test fails. An interrupted run is cleaned up too: `lab.sh up` first removes any
 * leftover lab, and SIGINT/SIGTERM tear it down before exiting.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { NTFY_HOST } from "./constants";

const ROOT = join(__dirname, "..", "..");
const LAB = join(ROOT, "scripts", "lab", "lab.sh");

function step(what: string, cmd: string, args: string[], env: Record<string, string> = {}) {
  const t = Date.now();
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal})`);
  console.log(`[e2e] ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

export default function setup() {
  if (process.getuid?.() !== 0) {
    throw new Error("the end-to-end suite needs root (network namespaces, dockerd, sshd)");
  }
  step("tools", "bash", [join(ROOT, "scripts", "ensure-tools.sh"), "--e2e"]);
  let down = false;
  const teardown = () => {
    if (down) return;
    if (process.env.E2E_KEEP_LAB === "1") {
      console.log("[e2e] E2E_KEEP_LAB=1: the lab stays up; remove it with scripts/lab/lab.sh down");
      return;
    }
    down = true;
    spawnSync("bash", [LAB, "down"], { stdio: "inherit" });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    teardown();
    process.kill(process.pid, sig);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    step("lab up", "bash", [LAB, "up"], { LAB_TLS_NAMES: NTFY_HOST });
  } catch (e) {
    teardown();
    throw e;
  }
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    teardown();
  };
}

/**
 * Global setup of the end-to-end suite: installs the Debian tools (scripts/ensure-tools.sh
 * --e2e), builds the lab (scripts/lab/lab.sh up) and returns its teardown, which runs even
 * when a test fails. An interrupted run is cleaned up too: `lab.sh up` first removes any
 * leftover lab, and SIGINT/SIGTERM tear it down before exiting. One lab per machine: a second
 * run waits for the first (flock), so `lab.sh up` never tears down a lab that is in use.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
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

/**
 * Holds /run/homelab-e2e.lock while the suite runs: flock keeps it as long as its stdin is open,
 * so the lock goes away with this process even if it is killed.
 */
async function lock(): Promise<ChildProcess> {
  const t = Date.now();
  const holder = spawn(
    "flock",
    ["-w", "900", "/run/homelab-e2e.lock", "sh", "-c", "echo locked; exec cat >/dev/null"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once("data", () => resolve());
    holder.once("exit", (code) =>
      reject(new Error(`another e2e run holds the lab (flock exit ${code})`)),
    );
  });
  const waited = (Date.now() - t) / 1000;
  if (waited > 1) console.log(`[e2e] waited ${waited.toFixed(0)} s for another run's lab`);
  return holder;
}

export default async function setup() {
  if (process.getuid?.() !== 0) {
    throw new Error("the end-to-end suite needs root (network namespaces, dockerd, sshd)");
  }
  step("tools", "bash", [join(ROOT, "scripts", "ensure-tools.sh"), "--e2e"]);
  const holder = await lock();
  let down = false;
  const teardown = () => {
    if (down) return;
    down = true;
    if (process.env.E2E_KEEP_LAB === "1") {
      console.log("[e2e] E2E_KEEP_LAB=1: the lab stays up; remove it with scripts/lab/lab.sh down");
    } else {
      spawnSync("bash", [LAB, "down"], { stdio: "inherit" });
    }
    holder.stdin!.end();
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

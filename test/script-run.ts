/**
 * Running the generated job scripts for real, piece by piece: their definitions sourced under
 * busybox sh (the sidecars' shell), with heartbeat, notify and sleep recorded instead of done.
 */
import { spawn } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { which } from "./tools";

/** A scratch directory, the PATH folder put first, and the file the stubs record calls in. */
export type Scratch = { dir: string; bin: string; calls: string };

/** `script` with `from` replaced by `to`; `from` must occur exactly once. */
export function substitute(script: string, from: string, to: string): string {
  expect(script.split(from)).toHaveLength(2);
  return script.replace(from, to);
}

/**
 * The script's definitions, to be sourced: everything before its first `case "${1:-}" in`.
 * Sourcing the whole script is not possible (its dispatcher exits with usage on an unknown
 * argument); what is cut off is the check/drill guard and that dispatcher, no definition.
 */
export function definitions(script: string): string {
  const at = script.indexOf('\ncase "${1:-}" in\n');
  expect(at).toBeGreaterThan(0);
  expect(script.slice(at)).not.toMatch(/^[a-z_]+\(\) \{/m);
  return script.slice(0, at + 1);
}

/**
 * Defined after sourcing, so they replace the script's own: heartbeat and notify record their
 * arguments instead of calling Gatus and ntfy, and sleep records instead of waiting (a refused
 * start waits 2 s between tries).
 */
export const STUBS = `
heartbeat() { echo "heartbeat $*" >>"$CALLS"; }
notify() { echo "notify $1" >>"$CALLS"; }
sleep() { echo "sleep $*" >>"$CALLS"; }
`;

/** A scratch directory in `root` with a PATH folder whose `wget` is busybox's. */
export function makeScratch(root: string): Scratch {
  const dir = mkdtempSync(join(root, "run-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  // busybox-static's sh runs its own applet for `wget` anyway; the link makes any busybox do so.
  symlinkSync(which("busybox")!, join(bin, "wget"));
  const calls = join(dir, "calls");
  writeFileSync(calls, "");
  return { dir, bin, calls };
}

/**
 * Sources `lib` under `busybox sh`, then runs `commands`; async, so a server here can answer.
 * With `readOnly`, that folder is read-only to it, as the sidecar's volume mounts are: as root
 * (who writes anywhere) a read-only bind mount of it onto itself in a mount namespace of its
 * own, for anyone else its write bits taken off for the run.
 */
export function busybox(
  s: Scratch,
  lib: string,
  commands: string,
  readOnly?: string,
): Promise<{ code: number | null; out: string; calls: string[] }> {
  writeFileSync(join(s.dir, "lib.sh"), lib);
  const sh = ["busybox", "sh", "-c", `. "$LIB"\n${STUBS}\n${commands}`];
  const asRoot = process.getuid?.() === 0;
  if (readOnly && !asRoot) chmodSync(readOnly, 0o555);
  const [cmd, ...args] =
    readOnly && asRoot
      ? [
          "unshare",
          "--mount",
          "sh",
          "-c",
          'mount --bind -o ro "$RO" "$RO" && exec "$@"',
          "-",
          ...sh,
        ]
      : sh;
  return new Promise((resolve) => {
    const p = spawn(cmd!, args, {
      env: {
        RO: readOnly ?? "",
        PATH: `${s.bin}:/usr/bin:/bin`,
        LIB: join(s.dir, "lib.sh"),
        CALLS: s.calls,
        TMPDIR: s.dir,
        HOME: s.dir,
      },
    });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("close", (code) => {
      if (readOnly && !asRoot) chmodSync(readOnly, 0o755);
      resolve({ code, out, calls: readFileSync(s.calls, "utf8").split("\n").filter(Boolean) });
    });
  });
}

/** Runs a command; its exit code and output. */
export function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args);
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("close", (code) => resolve({ code, out }));
  });
}

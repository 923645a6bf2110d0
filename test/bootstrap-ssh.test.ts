/**
 * configs/bootstrap.sh for real: run as root through a real sshd on loopback against this
 * machine (Docker installed by scripts/ensure-tools.sh), the way the Bootstrap component runs
 * it (`sh -s`, script on stdin). The first run sets the host up, the second changes nothing,
 * a broken mode is repaired, and the deploy user it made reaches Docker over SSH the way the
 * Docker provider does (`ssh … docker system dial-stdio`).
 *
 * Everything it starts (sshd, dockerd if none answered) and makes (a user, a temp dir) is
 * removed in afterAll, whatever happened before. Only 127.0.0.1 is used.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { chmodSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapCommand, renderBootstrapScript } from "../configs/bootstrap";

const DIR = mkdtempSync(join(tmpdir(), "homelab-bootstrap-ssh-"));
const USER = `hlboot${process.pid % 100000}`;
/** A passwordless-sudo login (Raspberry Pi OS style) and the deploy user it bootstraps. */
const SUDOER = `hlsudo${process.pid % 100000}`;
const SUDO_DEPLOY = `hldep${process.pid % 100000}`;
const SUDOERS_FILE = `/etc/sudoers.d/homelab-test-${process.pid}`;
const DATA = join(DIR, "data");
const cleanups: (() => void)[] = [];
let port = 0;

const run = (cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, ...opts });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor(what: string, ok: () => boolean, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up in ${seconds} s`);
}

const engineAnswers = () =>
  run("docker", ["version", "--format", "{{.Server.Version}}"]).status === 0;

/** An sshd of our own: key-only, loopback, root with the test key, others with their own keys. */
async function startSshd(): Promise<void> {
  port = await freePort();
  for (const k of ["host", "client"])
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      `homelab-test-${k}`,
      "-f",
      join(DIR, k),
    ]);
  writeFileSync(join(DIR, "authorized_keys"), readFileSync(join(DIR, "client.pub")));
  chmodSync(join(DIR, "authorized_keys"), 0o644);
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  writeFileSync(
    join(DIR, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(DIR, "host")}`,
      `PidFile ${join(DIR, "sshd.pid")}`,
      "AuthorizedKeysFile .ssh/authorized_keys",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin prohibit-password",
      `AllowUsers root ${USER} ${SUDOER} ${SUDO_DEPLOY}`,
      "StrictModes no",
      "LogLevel VERBOSE",
      // root logs in with the test key; the deploy user only with what the bootstrap gave it.
      "Match User root",
      `  AuthorizedKeysFile ${join(DIR, "authorized_keys")}`,
      "",
    ].join("\n"),
  );
  // Absolute -f: sshd re-execs itself from / (lab-recipes §1).
  const started = run("/usr/sbin/sshd", [
    "-f",
    join(DIR, "sshd_config"),
    "-E",
    join(DIR, "sshd.log"),
  ]);
  if (started.status !== 0) throw new Error(`sshd did not start: ${started.stderr}`);
  cleanups.push(() => {
    const pidFile = join(DIR, "sshd.pid");
    if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGTERM");
  });
  writeFileSync(
    join(DIR, "known_hosts"),
    `[127.0.0.1]:${port} ${readFileSync(join(DIR, "host.pub"), "utf8").split(" ").slice(0, 2).join(" ")}\n`,
  );
  writeFileSync(
    join(DIR, "ssh_config"),
    [
      "Host 127.0.0.1",
      `  Port ${port}`,
      `  IdentityFile ${join(DIR, "client")}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${join(DIR, "known_hosts")}`,
      "  StrictHostKeyChecking yes",
      "  BatchMode yes",
      "",
    ].join("\n"),
  );
  // The docker CLI execs `ssh` from PATH and cannot be given -F: a wrapper goes first in PATH.
  mkdirSync(join(DIR, "bin"));
  writeFileSync(
    join(DIR, "bin", "ssh"),
    `#!/bin/sh\nexec /usr/bin/ssh -F ${join(DIR, "ssh_config")} "$@"\n`,
    {
      mode: 0o755,
    },
  );
  await waitFor("sshd", () => ssh("root", "true").status === 0, 10);
}

/** dockerd, unless one answers already (CI starts on a machine where nothing runs). */
async function ensureEngine(): Promise<void> {
  if (engineAnswers()) return;
  const log = join(DIR, "dockerd.log");
  const child: ChildProcess = spawn("sh", ["-c", `exec dockerd >${log} 2>&1`], { stdio: "ignore" });
  cleanups.push(() => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    // dockerd stops its containers and containerd first; give it the time it takes.
    for (let i = 0; i < 150 && child.exitCode === null && existsSync(`/proc/${child.pid}`); i++)
      execFileSync("sleep", ["0.1"]);
  });
  await waitFor("dockerd (see its log in the test dir)", engineAnswers, 60);
}

function ssh(user: string, command: string, input?: string) {
  return run("ssh", ["-F", join(DIR, "ssh_config"), `${user}@127.0.0.1`, command], { input });
}

/**
 * One bootstrap the way the Bootstrap component runs it: script on stdin, `sh -s` as root or
 * `sudo -n sh -s` as a sudo user.
 */
function bootstrap(
  login = "root",
  params: Parameters<typeof renderBootstrapScript>[0] = {
    deployUser: USER,
    dataRoot: DATA,
    authorizedKeysFile: join(DIR, "authorized_keys"),
  },
) {
  const r = ssh(login, bootstrapCommand(login), renderBootstrapScript(params));
  const lines = r.stdout.trim().split("\n");
  return { ...r, lines, result: lines.at(-1) };
}

const modeOf = (p: string) => (statSync(p).mode & 0o777).toString(8);
const ownerOf = (p: string) =>
  execFileSync("stat", ["-c", "%U:%G", p], { encoding: "utf8" }).trim();

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the bootstrap test needs root (useradd, sshd)");
  for (const u of [USER, SUDOER, SUDO_DEPLOY]) {
    if (run("id", [u]).status === 0) throw new Error(`user ${u} exists already; remove it first`);
    cleanups.push(() => {
      if (run("id", [u]).status === 0) run("/usr/sbin/userdel", ["--remove", u]);
    });
  }
  cleanups.push(() => rmSync(SUDOERS_FILE, { force: true }));
  await startSshd();
  await ensureEngine();
}, 120_000);

afterAll(() => {
  const errors: unknown[] = [];
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch (e) {
      errors.push(e);
    }
  }
  rmSync(DIR, { recursive: true, force: true });
  if (errors.length) throw errors[0];
});

describe("bootstrap.sh over a real sshd on 127.0.0.1", () => {
  it("first run: sets the host up and says it changed something", () => {
    const r = bootstrap();
    expect(r.status, r.stderr).toBe(0);
    expect(r.result).toBe("changed=1");
    expect(r.lines).toContain(`bootstrap: run: usermod -aG docker ${USER}`);
    expect(
      r.lines.some((l) => /^bootstrap: docker: ok \(engine .+, usable by hlboot\d+\)$/.test(l)),
    ).toBe(true);
    expect(run("id", ["-nG", USER]).stdout.split(/\s+/)).toContain("docker");
    for (const dir of [DATA, join(DATA, "restore")]) {
      expect(ownerOf(dir)).toBe(`${USER}:${USER}`);
      expect(modeOf(dir)).toBe("750");
    }
    const home = run("getent", ["passwd", USER]).stdout.split(":")[5]!;
    expect(modeOf(join(home, ".ssh", "authorized_keys"))).toBe("600");
    expect(ownerOf(join(home, ".ssh", "authorized_keys"))).toBe(`${USER}:${USER}`);
  });

  it("second run: changes nothing", () => {
    const r = bootstrap();
    expect(r.status, r.stderr).toBe(0);
    expect(r.result).toBe("changed=0");
    expect(r.lines.filter((l) => l.startsWith("bootstrap: run:"))).toEqual([]);
  });

  it("repairs what drifted, then is quiet again", () => {
    chmodSync(DATA, 0o777);
    const fix = bootstrap();
    expect(fix.status, fix.stderr).toBe(0);
    expect(fix.lines.filter((l) => l.startsWith("bootstrap: run:"))).toEqual([
      `bootstrap: run: chown ${USER}:${USER} ${DATA}`,
      `bootstrap: run: chmod 0750 ${DATA}`,
    ]);
    expect(fix.result).toBe("changed=1");
    expect(modeOf(DATA)).toBe("750");
    expect(bootstrap().result).toBe("changed=0");
  });

  it("the deploy user reaches Docker over SSH the way the Docker provider does", () => {
    const local = run("docker", ["version", "--format", "{{.Server.Version}}"]).stdout.trim();
    const r = run("docker", ["version", "--format", "{{.Server.Version}}"], {
      env: {
        ...process.env,
        PATH: `${join(DIR, "bin")}:${process.env.PATH}`,
        DOCKER_HOST: `ssh://${USER}@127.0.0.1:${port}`,
      },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(local);
    // …with the key the bootstrap gave it, and nothing else: no key, no login.
    const denied = run("ssh", [
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "PubkeyAuthentication=no",
      "-o",
      `UserKnownHostsFile=${join(DIR, "known_hosts")}`,
      "-p",
      String(port),
      `${USER}@127.0.0.1`,
      "true",
    ]);
    expect(denied.status).toBe(255);
    expect(denied.stderr).toContain("Permission denied");
  });
});

describe("bootstrap.sh through a passwordless-sudo login (bootstrapUser other than root)", () => {
  let sudoerKeys = "";
  beforeAll(() => {
    const made = run("/usr/sbin/useradd", [
      "--create-home",
      "--shell",
      "/bin/sh",
      "--password",
      "*",
      SUDOER,
    ]);
    if (made.status !== 0) throw new Error(`useradd ${SUDOER}: ${made.stderr}`);
    const home = run("getent", ["passwd", SUDOER]).stdout.split(":")[5]!;
    mkdirSync(join(home, ".ssh"), { mode: 0o700 });
    sudoerKeys = readFileSync(join(DIR, "client.pub"), "utf8");
    writeFileSync(join(home, ".ssh", "authorized_keys"), sudoerKeys, { mode: 0o600 });
    execFileSync("chown", ["-R", `${SUDOER}:${SUDOER}`, join(home, ".ssh")]);
    writeFileSync(SUDOERS_FILE, `${SUDOER} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    const check = run("/usr/sbin/visudo", ["-c", "-f", SUDOERS_FILE]);
    if (check.status !== 0) throw new Error(`sudoers: ${check.stdout}${check.stderr}`);
  });
  const params = { deployUser: SUDO_DEPLOY, dataRoot: join(DIR, "sudo-data") };

  it("runs as root through sudo -n, and the new deploy user gets the sudo user's keys", () => {
    const r = bootstrap(SUDOER, params);
    expect(r.status, r.stderr).toBe(0);
    expect(r.result).toBe("changed=1");
    expect(run("id", ["-nG", SUDO_DEPLOY]).stdout.split(/\s+/)).toContain("docker");
    const home = run("getent", ["passwd", SUDO_DEPLOY]).stdout.split(":")[5]!;
    expect(readFileSync(join(home, ".ssh", "authorized_keys"), "utf8")).toBe(sudoerKeys);
    expect(ssh(SUDO_DEPLOY, "docker version --format '{{.Server.Version}}'").status).toBe(0);
  });

  it("second run through sudo: changes nothing", () => {
    const r = bootstrap(SUDOER, params);
    expect(r.status, r.stderr).toBe(0);
    expect(r.result).toBe("changed=0");
  });

  it("without passwordless sudo it fails at once instead of waiting for a password", () => {
    rmSync(SUDOERS_FILE);
    const r = bootstrap(SUDOER, params);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("sudo: a password is required");
    expect(r.stdout).not.toContain("changed=");
  });
});

/**
 * configs/bootstrap.sh for real: run as root through a real sshd on loopback against this
 * machine (Docker installed by scripts/ensure-tools.sh), the way the Bootstrap component runs
 * it (`sh -s`, script on stdin). The first run sets the host up, the second changes nothing,
 * a broken mode is repaired, and the deploy user it made reaches Docker over SSH the way the
 * Docker provider does (`ssh … docker system dial-stdio`).
 *
 * It also waits, with real apt-get, for apt's locks held by another process (see "waits for
 * apt's locks" below).
 *
 * Everything it starts (sshd, dockerd if none answered, lock holders) and makes (a user, a temp
 * dir) is removed in afterAll, whatever happened before. Only 127.0.0.1 is used.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { chmodSync, realpathSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bootstrapCommand, renderBootstrapScript } from "../../configs/bootstrap";

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
  // Absolute paths: sshd refuses a relative one of itself ("sshd requires execution with an
  // absolute path") and chdir("/")s once started, so a relative -f would not be found again
  // when it re-reads its config (github:openssh/openssh-portable sshd.c:1455, :1825).
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
    // This machine's engine is Debian 12's docker.io (20.10, API 1.41): too old for the backup
    // containers' volume subpath mounts (API 1.45), and the bootstrap says so, with the fix.
    const api = run("docker", ["version", "--format", "{{.Server.APIVersion}}"]).stdout.trim();
    const [major, minor] = api.split(".").map(Number) as [number, number];
    const old = major < 1 || (major === 1 && minor < 45);
    expect(r.stderr.includes(`bootstrap: warning: the engine speaks Docker API ${api}, but`)).toBe(
      old,
    );
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

/**
 * apt's locks, established on this Debian 12 machine (apt 2.6.1) before this test was written,
 * each lock held by `python3 -c 'fcntl.lockf(fd, LOCK_EX|LOCK_NB)'` (a POSIX F_SETLK write lock,
 * the kind apt's GetLock takes in apt-pkg/contrib/fileutl.cc; a flock(1) holder is invisible to
 * apt: `flock /var/lib/apt/lists/lock sleep 10` + `apt-get update` → exit 0):
 *
 *   held                          apt-get update -q       apt-get install -y -q docker.io (installed)
 *   /var/lib/apt/lists/lock       exit 100 at once        exit 0
 *   /var/lib/dpkg/lock-frontend   exit 0                  exit 100 at once
 *   /var/lib/dpkg/lock            exit 0                  exit 100 at once
 *   /var/cache/apt/archives/lock  exit 0                  exit 100 at once (even with nothing to get)
 *
 * stderr, e.g. `E: Could not get lock /var/lib/apt/lists/lock. It is held by process 17981
 * (python3)` then `E: Unable to lock directory /var/lib/apt/lists/`. With `-o
 * DPkg::Lock::Timeout=5` update and the archives lock still fail at once (0.9 s, 1.1 s); the
 * two dpkg locks are waited for (stdout: `Waiting for cache lock: Could not get lock
 * /var/lib/dpkg/lock-frontend. It is held by process 21927 (python3)...`, once a second) and
 * after 5.0 s fail with only `E: Unable to acquire the dpkg frontend lock
 * (/var/lib/dpkg/lock-frontend), is another process using it?` (or `E: Unable to lock the
 * administration directory (/var/lib/dpkg/), is another process using it?`); released within
 * the timeout, install goes on, exit 0. The source agrees: DPkg::Lock::Timeout is read only in
 * debSystem::Lock (apt-pkg/deb/debsystem.cc, GetLockMaybeWait for lock-frontend and lock), while
 * pkgAcquire::GetLock (apt-pkg/acquire.cc: the lists and archives directories) calls GetLock
 * once ("Unable to lock directory %s"); changelog.Debian: 1.9.11 "apt(8): Wait for lock", 2.0.0
 * "GetLock: No strerror if it's just another process holding the lock"; apt-get(8): "returns
 * zero on normal operation, decimal 100 on error".
 *
 * So these run the real script with real apt-get (apt-get update reaches the Debian mirror;
 * docker.io is installed, so install downloads nothing) while a real process holds one lock.
 * The host has Docker, so the script would skip apt: it runs in a mount namespace where
 * dockerd is an empty, non-executable file.
 */
describe("bootstrap.sh waits for apt's locks (real apt-get, a real lock holder)", () => {
  const NO_DOCKERD = join(DIR, "no-dockerd");
  const params = {
    deployUser: USER,
    dataRoot: DATA,
    authorizedKeysFile: join(DIR, "authorized_keys"),
  };
  const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const HOLDER = [
    "import fcntl, os, sys, time",
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)",
    "fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)",
    "print('locked', flush=True)",
    "def running(word):",
    "    for pid in filter(str.isdigit, os.listdir('/proc')):",
    "        try:",
    "            argv = open('/proc/' + pid + '/cmdline', 'rb').read().split(b'\\0')",
    "        except OSError:",
    "            continue",
    "        if os.path.basename(argv[0]) == b'apt-get' and word.encode() in argv:",
    "            return True",
    "    return False",
    "word, seconds, cap = sys.argv[2], float(sys.argv[3]), time.time() + 120",
    "while word and not running(word) and time.time() < cap:",
    // An apt-get that fails on a held lock lives some 20-30 ms: looked for every 5 ms.
    "    time.sleep(0.005)",
    "time.sleep(seconds)",
  ].join("\n");

  const holders: ChildProcess[] = [];
  const stopped = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        });
  cleanups.push(() => holders.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
  // A failed test must not leave its lock held for the next one.
  afterEach(async () => {
    await Promise.all(holders.splice(0).map(stopped));
  });

  /**
   * A process holding `file` the way apt does (then it exits: released): for `seconds`, or, with
   * `after`, until `apt-get <after>` runs and then `seconds` more. A fixed hold raced the SSH
   * login and `apt-get update` (which reaches the Debian mirror): in a CI run at 17:09 the update
   * outlasted a 15 s hold and apt-get install never met the lock.
   */
  async function holdLock(file: string, seconds: number, after = "") {
    const child = spawn(PYTHON, ["-c", HOLDER, file, after, String(seconds)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    holders.push(child);
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", () => reject(new Error(`lock holder for ${file} exited: ${stderr}`)));
    });
    return { pid: child.pid!, alive: () => child.exitCode === null && child.signalCode === null };
  }

  /** The script as root over SSH, with no dockerd to find, so it goes through apt. */
  function bootstrapWithApt(env: Record<string, string>) {
    const hidden = [
      ...new Set(
        ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
          .map((d) => join(d, "dockerd"))
          .filter((f) => existsSync(f))
          .map((f) => realpathSync(f)),
      ),
    ];
    const mounts = hidden.map((f) => `mount --bind ${NO_DOCKERD} ${f} && `).join("");
    const exports = Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    const started = Date.now();
    const r = ssh(
      "root",
      `unshare --mount sh -c '${mounts}export ${exports} && exec sh -s'`,
      renderBootstrapScript(params),
    );
    const lines = r.stdout.trim().split("\n");
    const runs = (what: string) => lines.filter((l) => l === `bootstrap: run: ${what}`).length;
    return { ...r, lines, result: lines.at(-1), seconds: (Date.now() - started) / 1000, runs };
  }
  const UPDATE = "env LC_ALL=C apt-get update -q";
  const installRuns = (lines: string[]) =>
    lines.filter((l) =>
      /^bootstrap: run: env LC_ALL=C DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=\d+ docker\.io$/.test(
        l,
      ),
    ).length;
  const waiting = (file: string, pid: number) =>
    new RegExp(
      `^bootstrap: waiting for another package manager: Could not get lock ${file}\\. It is held by process ${pid} \\(python3[.\\d]*\\); trying again in \\d+ s \\(giving up in \\d+ s\\)$`,
    );

  beforeAll(() => {
    writeFileSync(NO_DOCKERD, "", { mode: 0o644 });
    // The script sees no engine there, and real apt sees the lock a real process holds.
    const probe = bootstrapWithApt({ BOOTSTRAP_LOCK_WAIT: "60" });
    if (probe.runs(UPDATE) !== 1)
      throw new Error(`the bootstrap did not go through apt:\n${probe.stdout}${probe.stderr}`);
    if (probe.status !== 0)
      throw new Error(`apt bootstrap failed:\n${probe.stdout}${probe.stderr}`);
  }, 120_000);

  // Each lock is held until the apt-get it is meant for runs, then this long: the wait is seen
  // however long the SSH login and `apt-get update` took.
  const HOLD_AFTER = 3;

  it("apt-get update: tries again while /var/lib/apt/lists/lock is held, then goes on", async () => {
    const holder = await holdLock("/var/lib/apt/lists/lock", HOLD_AFTER, "update");
    const r = bootstrapWithApt({ BOOTSTRAP_LOCK_WAIT: "60" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.lines.some((l) => waiting("/var/lib/apt/lists/lock", holder.pid).test(l))).toBe(true);
    expect(r.runs(UPDATE)).toBeGreaterThanOrEqual(2);
    expect(installRuns(r.lines)).toBe(1);
    expect(r.seconds).toBeGreaterThanOrEqual(3);
    expect(r.result).toBe("changed=1");
  });

  it("apt-get install: tries again while /var/cache/apt/archives/lock is held, then goes on", async () => {
    const holder = await holdLock("/var/cache/apt/archives/lock", HOLD_AFTER, "install");
    const r = bootstrapWithApt({ BOOTSTRAP_LOCK_WAIT: "60" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.lines.some((l) => waiting("/var/cache/apt/archives/lock", holder.pid).test(l))).toBe(
      true,
    );
    expect(r.runs(UPDATE)).toBe(1);
    expect(installRuns(r.lines)).toBeGreaterThanOrEqual(2);
    expect(r.seconds).toBeGreaterThanOrEqual(3);
    expect(r.result).toBe("changed=1");
  });

  it.each(["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"])(
    "apt-get install: apt itself waits while %s is held (DPkg::Lock::Timeout), then goes on",
    async (file) => {
      const holder = await holdLock(file, HOLD_AFTER, "install");
      const r = bootstrapWithApt({ BOOTSTRAP_LOCK_WAIT: "60" });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.lines, r.stdout + r.stderr).toContain(
        `Waiting for cache lock: Could not get lock ${file}. It is held by process ${holder.pid} (python3)...`,
      );
      expect(installRuns(r.lines)).toBe(1);
      expect(r.lines.filter((l) => l.startsWith("bootstrap: waiting"))).toEqual([]);
      expect(r.seconds).toBeGreaterThanOrEqual(3);
      expect(r.result).toBe("changed=1");
    },
  );

  it("gives up after BOOTSTRAP_LOCK_WAIT when the lists lock is never released", async () => {
    const holder = await holdLock("/var/lib/apt/lists/lock", 120);
    const r = bootstrapWithApt({ BOOTSTRAP_LOCK_WAIT: "4" });
    expect(holder.alive()).toBe(true);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toBe(
      `bootstrap: error: apt-get update: another package manager still holds its lock after 4 s: Could not get lock /var/lib/apt/lists/lock. It is held by process ${holder.pid} (python3); run the bootstrap again once it is done`,
    );
    expect(r.seconds).toBeGreaterThanOrEqual(4);
    expect(r.seconds).toBeLessThan(20);
    expect(installRuns(r.lines)).toBe(0);
    expect(r.stdout).not.toContain("changed=");
  });

  it("gives up after BOOTSTRAP_LOCK_WAIT when the dpkg frontend lock is never released", async () => {
    const holder = await holdLock("/var/lib/dpkg/lock-frontend", 120);
    const r = bootstrapWithApt({ BOOTSTRAP_LOCK_WAIT: "6" });
    expect(holder.alive()).toBe(true);
    expect(r.status).toBe(1);
    // apt's own wait used up what was left of the 6 s (its message after the wait), or nothing
    // was left after a slow update (then apt did not wait and names the holder).
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(
      new RegExp(
        `^bootstrap: error: apt-get install: another package manager still holds its lock after 6 s: (Unable to acquire the dpkg frontend lock \\(/var/lib/dpkg/lock-frontend\\), is another process using it\\?|Could not get lock /var/lib/dpkg/lock-frontend\\. It is held by process ${holder.pid} \\(python3\\)); run the bootstrap again once it is done$`,
      ),
    );
    expect(r.seconds).toBeGreaterThanOrEqual(5);
    expect(r.seconds).toBeLessThan(25);
    expect(r.stdout).not.toContain("changed=");
  });

  /**
   * No Fedora here: dnf is a stand-in. What it stands in for, from dnf5's source
   * (rpm-software-management/dnf5): a transaction while another one runs fails in 5.0-5.3 with
   * "Transaction failed: Failed to obtain rpm transaction lock. Another transaction is in
   * progress." (libdnf5/base/transaction.cpp, TransactionRunResult::ERROR_LOCK; printed to
   * stderr by dnf5/context.cpp) and exit 1 (ExitCode::ERROR); from 5.4 dnf5 waits for the system
   * repository lock itself (commit 33d77df "context: lock system repo in load_repos"), as dnf 4
   * did ("Waiting for process with pid %d to finish.").
   */
  it("dnf (stand-in): tries again after dnf5's transaction-lock failure, not after other failures", () => {
    const bin = join(DIR, "fake-dnf");
    mkdirSync(bin, { recursive: true });
    const fedora = join(DIR, "os-release-fedora");
    writeFileSync(fedora, 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=42\n');
    const fakeDnf = (failures: number, message: string) => {
      rmSync(join(bin, "calls"), { force: true });
      writeFileSync(
        join(bin, "dnf"),
        [
          "#!/bin/sh",
          `echo "$*" >>${join(bin, "calls")}`,
          `[ "$(wc -l <${join(bin, "calls")})" -gt ${failures} ] && { echo Complete!; exit 0; }`,
          "echo 'Running transaction'",
          `printf '%s\\n' ${JSON.stringify(message)} >&2`,
          "exit 1",
          "",
        ].join("\n"),
        { mode: 0o755 },
      );
    };
    const calls = () => readFileSync(join(bin, "calls"), "utf8").trim().split("\n");
    const env = { BOOTSTRAP_LOCK_WAIT: "60", OS_RELEASE: fedora, PATH: `${bin}:$PATH` };

    fakeDnf(
      1,
      "Transaction failed: Failed to obtain rpm transaction lock. Another transaction is in progress.",
    );
    const r = bootstrapWithApt(env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.lines).toContainEqual(
      expect.stringMatching(
        /^bootstrap: waiting for another package manager: Failed to obtain rpm transaction lock\. Another transaction is in progress\.; trying again in 5 s \(giving up in (59|60) s\)$/,
      ),
    );
    expect(calls()).toEqual(["install -y moby-engine", "install -y moby-engine"]);
    expect(r.result).toBe("changed=1");

    fakeDnf(5, "No match for argument: moby-engine");
    const other = bootstrapWithApt(env);
    expect(other.status).toBe(1);
    expect(other.stderr.trim().split("\n")).toEqual([
      "No match for argument: moby-engine",
      "bootstrap: error: dnf install failed (exit 1); its errors are above",
    ]);
    expect(calls()).toEqual(["install -y moby-engine"]);
  });
});

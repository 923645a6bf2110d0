/**
 * The server bootstrap: the script (shellcheck, parameters, its dry run on each supported
 * distribution), its config keys, and the Bootstrap component as the reference stacks build it
 * (connection, trigger, secret output, and the Docker provider waiting for it). The real run
 * over SSH is in system/bootstrap-ssh.test.ts (npm run test:system).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Secret } from "../cli/evaluate";
import {
  BOOTSTRAP_SCRIPT_PATH,
  bootstrapCommand,
  parseChanged,
  renderBootstrapScript,
  scriptHash,
  shellQuote,
} from "../configs/bootstrap";
import { ConfigError, parseStackConfig } from "../lib/config";
import { T, evaluateReference, ofType, one } from "./helpers";
import { lacks } from "./tools";

const COMMAND = "command:remote:Command";
const BOOTSTRAP = "homelab:index:Bootstrap";

const shellcheck = (text: string) =>
  spawnSync("shellcheck", ["-s", "sh", "-f", "gcc", "-"], { input: text, encoding: "utf8" });

describe("bootstrap.sh", () => {
  it.skipIf(lacks("shellcheck")).each([
    ["the file", () => readFileSync(BOOTSTRAP_SCRIPT_PATH, "utf8")],
    [
      "as rendered",
      () => renderBootstrapScript({ deployUser: "deploy", dataRoot: "/srv/home-lab_2.d" }),
    ],
  ])("is shellcheck clean (%s)", (_, text) => {
    const r = shellcheck(text());
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it.skipIf(lacks("shellcheck"))(
    "shellcheck does report a broken script (the check can fail)",
    () => {
      const r = shellcheck("#!/bin/sh\necho $1\n");
      expect(r.status).not.toBe(0);
      expect(r.stdout).toContain("SC2086");
    },
  );

  it("knows which engines can mount volume subpaths (API 1.45+, moby api/docs/CHANGELOG.md v1.45)", () => {
    const fn = /^api_has_subpath\(\) \{[\s\S]*?^\}$/m.exec(
      readFileSync(BOOTSTRAP_SCRIPT_PATH, "utf8"),
    )![0];
    const has = (v: string) =>
      spawnSync("sh", ["-c", `${fn}\napi_has_subpath "$1"`, "sh", v]).status === 0;
    expect(["1.45", "1.46", "1.51", "2.0"].filter(has)).toEqual(["1.45", "1.46", "1.51", "2.0"]);
    // Debian 12's docker.io 20.10 speaks 1.41; garbage is not an engine.
    expect(["1.41", "1.44", "0.99", "", "1.", "abc", "1.4x"].filter(has)).toEqual([]);
  });

  it("gets its parameters at the marker, quoted", () => {
    const s = renderBootstrapScript({
      deployUser: "ops",
      dataRoot: "/data/home-lab_2",
      authorizedKeysFile: "/root/keys",
    });
    expect(s).not.toContain("# @params");
    expect(s).toContain(
      `DEPLOY_USER='ops'\nDATA_ROOT='/data/home-lab_2'\nAUTHORIZED_KEYS_FILE='/root/keys'\n`,
    );
    // The parameters come before the defaults that read them.
    expect(s.indexOf("DEPLOY_USER='ops'")).toBeLessThan(
      s.indexOf("DEPLOY_USER=${DEPLOY_USER:-deploy}"),
    );
    expect(renderBootstrapScript({ deployUser: "deploy" })).toContain("DATA_ROOT='/srv/homelab'");
  });

  it.each([
    [
      { deployUser: "Deploy" },
      'bootstrap: deployUser: expected a user name like "deploy", got "Deploy"',
    ],
    [{ deployUser: "a;b" }, 'bootstrap: deployUser: expected a user name like "deploy", got "a;b"'],
    [
      { deployUser: "d", dataRoot: "srv" },
      'bootstrap: dataRoot: expected an absolute path of letters, digits, ".", "_", "-" and "/" (no ".."), got "srv"',
    ],
    [
      { deployUser: "d", dataRoot: "/srv/../etc" },
      'bootstrap: dataRoot: expected an absolute path of letters, digits, ".", "_", "-" and "/" (no ".."), got "/srv/../etc"',
    ],
    [
      { deployUser: "d", authorizedKeysFile: "/k$(x)" },
      'bootstrap: authorizedKeysFile: expected an absolute path of letters, digits, ".", "_", "-" and "/" (no ".."), got "/k$(x)"',
    ],
  ])("rejects %j", (params, message) => {
    expect(() => renderBootstrapScript(params)).toThrow(message);
  });

  it("quotes any value for sh", () => {
    for (const v of ["plain", "it's", "$(rm -rf /)", "a\nb", "''"]) {
      const out = execFileSync("sh", ["-c", `printf %s ${shellQuote(v)}`], { encoding: "utf8" });
      expect(out).toBe(v);
    }
  });

  it("runs from stdin, as root or through sudo without a password prompt", () => {
    expect(bootstrapCommand("root")).toBe("sh -s");
    expect(bootstrapCommand("pi")).toBe("sudo -n sh -s");
  });

  it.each([
    ["a\nchanged=1\n", true],
    ["changed=0", false],
    ["bootstrap: run: x\nchanged=1\nnoise from a login shell\n", true],
    ["no result line", undefined],
    [undefined, undefined],
  ])("reads its result from %j", (stdout, want) => {
    expect(parseChanged(stdout)).toBe(want);
  });

  it("changes its hash, and so its trigger, when a parameter changes", () => {
    const a = scriptHash(renderBootstrapScript({ deployUser: "deploy" }));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(scriptHash(renderBootstrapScript({ deployUser: "deploy" }))).toBe(a);
    expect(scriptHash(renderBootstrapScript({ deployUser: "ops" }))).not.toBe(a);
  });
});

describe("bootstrap.sh dry run per distribution (no engine on PATH)", () => {
  const dir = mkdtempSync(join(tmpdir(), "homelab-bootstrap-dry-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (osRelease: string, shell = ["sh"], env: Record<string, string> = {}) => {
    const file = join(dir, `os-release-${scriptHash(osRelease).slice(0, 8)}`);
    writeFileSync(file, osRelease);
    // /usr/sbin (dockerd) is not on PATH: the script sees a host without Docker.
    return spawnSync(shell[0]!, [...shell.slice(1), "-s"], {
      input: renderBootstrapScript({ deployUser: "nosuchuser0", dataRoot: join(dir, "data") }),
      env: { PATH: "/usr/bin:/bin", OS_RELEASE: file, BOOTSTRAP_DRY_RUN: "1", ...env },
      encoding: "utf8",
    });
  };
  // LC_ALL=C: the lock messages the retry matches are apt's and dnf's untranslated ones. The
  // dpkg lock wait is the whole BOOTSTRAP_LOCK_WAIT (600 s); the real waits are in
  // system/bootstrap-ssh.test.ts.
  const APT = [
    "bootstrap: would run: env LC_ALL=C apt-get update -q",
    "bootstrap: would run: env LC_ALL=C DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 docker.io",
  ];

  it.each([
    [
      "Fedora",
      'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=42\n',
      ["bootstrap: would run: env LC_ALL=C dnf install -y moby-engine"],
    ],
    ["Debian", 'ID=debian\nVERSION_ID="12"\n', APT],
    ["Ubuntu", "ID=ubuntu\nID_LIKE=debian\n", APT],
    ["Raspberry Pi OS (32-bit)", "ID=raspbian\nID_LIKE=debian\n", APT],
  ])("%s: installs the engine from the distribution", (_, osRelease, install) => {
    const r = run(osRelease);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.filter((l) => /would run: (dnf|apt-get|env)/.test(l))).toEqual(install);
    expect(lines).toContain(
      "bootstrap: would run: useradd --create-home --shell /bin/sh --password * nosuchuser0",
    );
    expect(lines).toContain("bootstrap: would run: usermod -aG docker nosuchuser0");
    expect(lines).toContain(`bootstrap: would run: mkdir -p ${join(dir, "data", "restore")}`);
    expect(lines.at(-1)).toBe("changed=1");
  });

  // Debian's, Ubuntu's and Raspberry Pi OS's sh is dash; Fedora's is bash; busybox sh is the
  // smallest POSIX sh around.
  it.for([
    ["bash", "--posix"],
    ["busybox", "sh"],
  ])("the same dry run under %j", (shell, ctx) => {
    if (shell[0] === "busybox" && lacks("busybox")) ctx.skip();
    const r = run('ID=debian\nVERSION_ID="12"\n', shell, { BOOTSTRAP_LOCK_WAIT: "45" });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.filter((l) => l.includes("apt-get"))).toEqual([
      APT[0],
      APT[1]!.replace("Timeout=600", "Timeout=45"),
    ]);
    expect(lines.at(-1)).toBe("changed=1");
  });

  it.each(["10m", "-1", "1 0"])("refuses BOOTSTRAP_LOCK_WAIT=%j", (wait) => {
    const r = run("ID=debian\n", ["sh"], { BOOTSTRAP_LOCK_WAIT: wait });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `bootstrap: error: BOOTSTRAP_LOCK_WAIT: expected a number of seconds, got "${wait}"`,
    );
    expect(r.stdout).not.toContain("changed=");
  });

  it("refuses other systems, naming the supported ones", () => {
    const r = run("ID=alpine\n");
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^bootstrap: error: unsupported system "alpine" \(.*\); supported: Fedora, Debian, Ubuntu, Raspberry Pi OS$/,
    );
    expect(r.stdout).not.toContain("changed=");
  });
});

describe("bootstrap config keys", () => {
  const base = { host: "h.example.net", domain: "h.example.com", acmeEmail: "a@example.com" };
  const ctx = { stack: "home", serviceNames: [] };

  it("defaults to a bootstrap as root", () => {
    const c = parseStackConfig({ values: base, secretsPresent: [] }, ctx);
    expect(c.bootstrap).toEqual({ enabled: true, user: "root", hostKey: "" });
    expect(
      parseStackConfig(
        { values: { ...base, bootstrap: "false", bootstrapUser: "pi" }, secretsPresent: [] },
        ctx,
      ).bootstrap,
    ).toEqual({ enabled: false, user: "pi", hostKey: "" });
  });

  it("lists every problem of the bootstrap keys", () => {
    let message = "";
    try {
      parseStackConfig(
        {
          values: {
            ...base,
            bootstrap: "yes",
            bootstrapUser: "Root!",
            sshPrivateKey: "<plaintext>",
          },
          secretsPresent: [],
        },
        ctx,
      );
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      message = e.message;
    }
    expect(message.split("\n").slice(1)).toEqual([
      "  sshPrivateKey: must be a secret: it is in plain text in Pulumi.home.yaml; remove it there (and rotate it if the file was shared) and run pulumi config set --secret sshPrivateKey <value>",
      '  bootstrap: expected true or false, got "yes"',
      '  bootstrapUser: expected a user name, got "Root!"',
    ]);
  });
});

describe("Bootstrap in the reference stacks", () => {
  it.each([
    ["home", "home.tail0e1f2.ts.net", 22, "root", "sh -s"],
    ["cloud", "cloud.example.com", 2222, "root", "sh -s"],
    // Raspberry Pi OS: its sudo user, not root (Pulumi.offsite.yaml).
    ["offsite", "offsite.tail0e1f2.ts.net", 22, "pi", "sudo -n sh -s"],
  ])(
    "%s: one bootstrap run over SSH, re-run only by a new script or machine, output secret",
    async (stack, host, port, user, create) => {
      const e = await evaluateReference(stack);
      expect(ofType(e, BOOTSTRAP).map((b) => b.name)).toEqual([`${stack}-bootstrap`]);
      const cmds = ofType(e, COMMAND);
      expect(cmds.map((c) => c.name)).toEqual([`${stack}-bootstrap-run`]);
      const cmd = cmds[0]!;
      const script = renderBootstrapScript({ deployUser: "deploy" });
      expect(cmd.options.parent).toBe(`${stack}-bootstrap`);
      expect(cmd.inputs.create).toBe(create);
      expect(cmd.inputs.stdin).toBe(script);
      // test/bootstrap-login.test.ts: what re-runs it, and the pinned host key.
      expect(cmd.inputs.triggers).toEqual([scriptHash(script), `${host}:${port}`]);
      expect(cmd.inputs.update).toBe("true");
      expect(cmd.inputs.logging).toBe("none");
      expect(cmd.inputs.delete).toBeUndefined();
      expect(cmd.options.additionalSecretOutputs).toEqual(["connection", "stderr", "stdout"]);
      expect(cmd.options.replaceOnChanges).toEqual(["triggers[*]"]);
      expect(cmd.inputs.connection).toBeInstanceOf(Secret);
      expect((cmd.inputs.connection as Secret).value).toMatchObject({
        host,
        port,
        user,
        privateKey: "placeholder-sshPrivateKey",
      });
    },
  );

  it.each(["home", "cloud", "offsite"])(
    "%s: the Docker provider, and so every container, waits for it",
    async (stack) => {
      const e = await evaluateReference(stack);
      const provider = one(e, T.provider, `${stack}-docker`);
      expect(provider.options.dependsOn).toEqual([`${stack}-bootstrap`]);
      // Provider inputs reach the engine as strings.
      expect(provider.inputs.disableDockerDaemonCheck).toBe("true");
      const containers = ofType(e, T.container);
      expect(containers.length).toBeGreaterThan(5);
      for (const c of containers)
        expect(c.provider, c.name).toMatch(new RegExp(`::${stack}-docker::`));
    },
  );

  it("a non-root bootstrap user goes through sudo; no key means the SSH agent", async () => {
    const e = await evaluateReference("home", {
      overrides: { bootstrapUser: "admin", sshPrivateKey: undefined },
    });
    const cmd = one(e, COMMAND, "home-bootstrap-run");
    expect(cmd.inputs.create).toBe("sudo -n sh -s");
    const connection = (cmd.inputs.connection as Secret).value as Record<string, unknown>;
    expect(connection.user).toBe("admin");
    expect(connection).not.toHaveProperty("privateKey");
  });

  it("bootstrap: false builds no bootstrap and no dependency", async () => {
    const e = await evaluateReference("offsite", { overrides: { bootstrap: false } });
    expect(ofType(e, COMMAND)).toEqual([]);
    expect(ofType(e, BOOTSTRAP)).toEqual([]);
    const provider = one(e, T.provider, "offsite-docker");
    expect(provider.options.dependsOn).toBeUndefined();
    expect(provider.inputs.disableDockerDaemonCheck).toBeUndefined();
  });

  it("the private key never appears outside the secret connection", async () => {
    const e = await evaluateReference("home");
    for (const r of e.resources) {
      const plain = JSON.stringify(r.inputs); // Secret serialises as "[secret]"
      expect(plain, `${r.type} ${r.name}`).not.toContain("placeholder-sshPrivateKey");
    }
    expect(JSON.stringify(e.outputs)).not.toContain("placeholder-sshPrivateKey");
  });
});

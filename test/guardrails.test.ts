/**
 * The guardrails (lib/guardrails): every check holds on the three reference stacks, and each
 * one fires, naming the resource and the fix, on a deliberately broken copy of them.
 */
import { describe, expect, it } from "vitest";
import { DOCKER_PROXY, renderDockerProxyConfig } from "../configs/docker-proxy";
import { parse, stringify } from "yaml";
import { Evaluation, Secret, asPeerOutputs, evaluateStack } from "../cli/evaluate";
import { planWarnings } from "../cli/plan-warnings";
import { serverPlans } from "../cli/report-model";
import {
  GUARDRAILS,
  GuardrailId,
  StackIntent,
  checkFleet,
  checkStack,
  formatFinding,
  intentFromConfig,
  intentOf,
} from "../lib/guardrails";
import { routedHosts, watchedHosts } from "../lib/guardrails/routing";
import { scriptRepos, syncthingFolders, heartbeatKeysOf } from "../lib/guardrails/backups";
import { secretValues } from "../lib/guardrails/secrets";
import { imageTag } from "../lib/guardrails/containers";
import {
  broken,
  dockerContainer,
  editEnvs,
  editUpload,
  referenceIntent,
  referenceRaw,
  removeContainer,
  resource,
  setLabel,
} from "./fixtures/broken";
import {
  ROOT,
  STACK_NAMES,
  container,
  evaluateReference,
  referenceConfig,
  referenceFleet,
  reveal,
  uploadOf,
} from "./helpers";

const IDS = Object.keys(GUARDRAILS) as GuardrailId[];
const intent = referenceIntent();

/** Findings of one check on one stack of a (broken) fleet, as printed lines. */
function run(
  fleet: Record<string, Evaluation>,
  stack: string,
  id: GuardrailId,
  intents: Record<string, StackIntent> = intent,
): string[] {
  return GUARDRAILS[id](fleet[stack]!, { fleet, intent: intents }).map(formatFinding);
}

describe("the reference fleet", () => {
  it.each(IDS)("%s holds on home, cloud and offsite", async (id) => {
    const { evaluations } = await referenceFleet();
    const found = STACK_NAMES.flatMap((s) => run(evaluations, s, id));
    expect(found).toEqual([]);
  });

  it("all checks together find nothing", async () => {
    const { evaluations } = await referenceFleet();
    expect(checkFleet(evaluations, intent).map(formatFinding)).toEqual([]);
  });
});

describe("the checks look at real things", () => {
  it("sees the routes, monitors, repositories, folders, heartbeats and secrets of home", async () => {
    const { evaluations } = await referenceFleet();
    const home = evaluations.home!;
    expect(
      routedHosts(home)
        .map((r) => r.host)
        .sort(),
    ).toEqual([
      "ha.home.example.com",
      "photos.home.example.com",
      "status.home.example.com",
      "sync.home.example.com",
      "traefik.home.example.com",
      "vault.home.example.com",
    ]);
    expect(watchedHosts(evaluations.offsite!)).toContain("vault.home.example.com");
    const script = uploadOf(
      container(home, "immich-backup"),
      "/usr/local/bin/homelab-backup",
    ).content;
    expect(scriptRepos(script)).toEqual([
      {
        repository: "/backups/home/immich",
        heartbeats: {
          backup: "home-jobs_backup-immich",
          check: "home-jobs_check-immich",
          drill: "home-jobs_drill-immich",
          verify: "",
          downtime: "",
        },
      },
    ]);
    expect(
      syncthingFolders(evaluations.offsite!).map((f) => `${f.id} ${f.type} ${f.devices.length}`),
    ).toEqual([
      "backups-cloud receiveonly 2",
      "backups-home receiveonly 2",
      "backups-offsite sendonly 1",
    ]);
    expect(heartbeatKeysOf(home)).toContain("home-jobs_drill-vaultwarden");
    // Generated passwords are found by value, wherever Pulumi holds them as secrets.
    const secrets = secretValues(home);
    const passwords = reveal(home.outputs.backupPasswords) as Record<string, string>;
    for (const pw of Object.values(passwords)) expect(secrets.has(pw)).toBe(true);
    const credentials = reveal(home.outputs.credentials) as Record<string, string>;
    expect(secrets.has(credentials.traefik!.replace("admin / ", ""))).toBe(true);
  });

  it.each(STACK_NAMES)(
    "%s: every generated credential it outputs is a known secret value",
    async (stack) => {
      const e = (await referenceFleet()).evaluations[stack]!;
      const secrets = secretValues(e);
      const credentials = reveal(e.outputs.credentials) as Record<string, unknown>;
      const values: string[] = [];
      for (const v of Object.values(credentials)) {
        if (typeof v === "string") values.push(v.replace("admin / ", ""));
        else values.push(...Object.values(v as Record<string, string>));
      }
      values.push(
        ...Object.values((reveal(e.outputs.backupPasswords) ?? {}) as Record<string, string>),
      );
      const tokens = (reveal(e.outputs.ntfyPublishTokens) ?? {}) as Record<string, string>;
      values.push(...Object.values(tokens).map((t) => t.replace(/^tk_/, "")));
      // cloud: + the SSO users alice and bob, + the homepage login, + the restic passwords of
      // Authelia's and ntfy's own backups.
      expect(values.length).toBe({ home: 7, cloud: 14, offsite: 3 }[stack]);
      for (const v of values) expect(secrets.has(v), v.slice(0, 3)).toBe(true);
    },
  );

  it("reads image tags", () => {
    expect(imageTag("vaultwarden/server:1.34.3")).toBe("1.34.3");
    expect(imageTag("localhost:5000/app")).toBe("");
    expect(imageTag("ghcr.io/x/y:latest")).toBe("latest");
    expect(imageTag(`restic/restic@sha256:${"a".repeat(64)}`)).toBe("@digest");
  });
});

const volume = "docker:index/volume:Volume";
const DYNAMIC = "/etc/traefik/dynamic/homelab.yml";
const GATUS = "/config/config.yaml";
const SCRIPT = "/usr/local/bin/homelab-backup";
const XML = "/etc/syncthing/config.xml";
type Fleet = Record<string, Evaluation>;
const volumesOf = (f: Fleet, stack: string, name: string) =>
  dockerContainer(f[stack]!, name).inputs.volumes as Record<string, unknown>[];

/** [check, stack, what breaks, the break, the exact findings]. */
/** The heartbeat key of offsite's keyless verify of cloud's mail replica, as its script has it. */
const replicaVerifyKey = (f: Fleet) => {
  const script = uploadOf(container(f.offsite!, "backup-replicas"), SCRIPT).content;
  return scriptRepos(script).find((r) => r.repository === "/backups/cloud/mail")!.heartbeats
    .verify!;
};
const HB_TOKEN = "/run/homelab/heartbeat-token";
const mountsOf = (f: Fleet, stack: string, name: string) =>
  dockerContainer(f[stack]!, name).inputs.mounts as Record<string, unknown>[];

type Expected = string[] | ((original: Fleet) => string[]);
const BROKEN: [GuardrailId, string, string, (f: Fleet) => void, Expected][] = [
  [
    "data-volume-retained",
    "home",
    "a data volume without retainOnDelete, a volume without kind",
    (f) => {
      resource(f.home!, volume, "home-vaultwarden-data").options.retainOnDelete = false;
      resource(f.home!, volume, "home-syncthing-index").inputs.labels = [];
    },
    [
      '[data-volume-retained] home: Volume home-syncthing-index: volume "syncthing-index" has no homelab.kind label, neither data nor cache: make it with homelabVolume() in components/docker.ts',
      '[data-volume-retained] home: Volume home-vaultwarden-data: data volume "vaultwarden-data" would be deleted by a rename or destroy: set retainOnDelete: true (or protect: true)',
    ],
  ],
  [
    "delete-before-replace",
    "cloud",
    "a named container without deleteBeforeReplace",
    (f) => {
      delete dockerContainer(f.cloud!, "mail").options.deleteBeforeReplace;
    },
    [
      '[delete-before-replace] cloud: Container cloud-mail-container ("mail"): a replacement would fail on the taken container name: set deleteBeforeReplace: true',
    ],
  ],
  [
    "docker-socket",
    "home",
    "Traefik with the socket, a writable socket proxy, a service with the socket",
    (f) => {
      volumesOf(f, "home", "traefik").push({
        hostPath: "/var/run/docker.sock",
        containerPath: "/var/run/docker.sock",
        readOnly: true,
      });
      volumesOf(f, "home", "traefik-socket-proxy")[0]!.readOnly = false;
      dockerContainer(f.home!, "vaultwarden").inputs.volumes = [
        { hostPath: "/run/docker.sock", containerPath: "/var/run/docker.sock" },
      ];
    },
    [
      '[docker-socket] home: Container home-traefik-container ("traefik"): Traefik mounts /var/run/docker.sock: Traefik must reach Docker only through the read-only socket proxy (tcp://traefik-socket-proxy:2375); remove the mount',
      '[docker-socket] home: Container home-traefik-socket-proxy ("traefik-socket-proxy"): the socket proxy mounts /var/run/docker.sock read-write: set readOnly: true',
      '[docker-socket] home: Container home-vaultwarden-container ("vaultwarden"): mounts /run/docker.sock, which only the read-only socket proxies (of Traefik and of backup jobs) and Watchtower may hold: remove the mount',
    ],
  ],
  [
    // Issue 11, item 2: the socket's parents. /var/run is a link to /run (here too: `ls -ld
    // /var/run` → /run), so a mount of /var/run, /run or / holds /run/docker.sock.
    "docker-socket",
    "home",
    "the socket's parent directories, Docker's data root, containerd and Podman, a bind volume, an undeclared path",
    (f) => {
      const mount = (c: string, hostPath: string) =>
        volumesOf(f, "home", c).push({ hostPath, containerPath: "/host" });
      mount("vaultwarden", "/var/run");
      mount("immich", "/");
      mount("home-assistant", "/run/");
      mount("immich-db", "/var/lib/docker/volumes");
      mount("immich-redis", "/srv/photos");
      // Watchtower may hold the socket, not its directory.
      mount("watchtower", "/var/run/../run");
      const index = resource(f.home!, volume, "home-syncthing-index");
      index.inputs.driverOpts = { type: "none", o: "bind", device: "/run/user/1000" };
    },
    [
      "[docker-socket] home: Volume home-syncthing-index: binds host path /run/user/1000 (driver options type/o/device): it gives the container a rootless Docker socket (/run/user/<uid>/docker.sock), a rootless Podman socket (/run/user/<uid>/podman/podman.sock), i.e. root on the host: remove the mount",
      '[docker-socket] home: Container home-home-assistant-container ("home-assistant"): mounts host path /run/: it gives the container the Docker socket (/run/docker.sock), a rootless Docker socket (/run/user/<uid>/docker.sock), the containerd socket (/run/containerd/containerd.sock), the Podman socket (/run/podman/podman.sock), a rootless Podman socket (/run/user/<uid>/podman/podman.sock), i.e. root on the host: remove the mount',
      "[docker-socket] home: Container home-immich-container (\"immich\"): mounts host path /: it gives the container the Docker socket (/run/docker.sock), a rootless Docker socket (/run/user/<uid>/docker.sock), Docker's data root (/var/lib/docker), the containerd socket (/run/containerd/containerd.sock), containerd's data root (/var/lib/containerd), the Podman socket (/run/podman/podman.sock), a rootless Podman socket (/run/user/<uid>/podman/podman.sock), Podman's storage (/var/lib/containers), i.e. root on the host: remove the mount",
      '[docker-socket] home: Container home-immich-db-container ("immich-db"): mounts host path /var/lib/docker/volumes: it gives the container Docker\'s data root (/var/lib/docker), i.e. root on the host: remove the mount',
      '[docker-socket] home: Container home-immich-redis-container ("immich-redis"): mounts host path /srv/photos: no component declares it (HOST_MOUNTS in components/defaults.ts): use a named volume',
      '[docker-socket] home: Container home-vaultwarden-container ("vaultwarden"): mounts host path /var/run: it gives the container the Docker socket (/run/docker.sock), a rootless Docker socket (/run/user/<uid>/docker.sock), the containerd socket (/run/containerd/containerd.sock), the Podman socket (/run/podman/podman.sock), a rootless Podman socket (/run/user/<uid>/podman/podman.sock), i.e. root on the host: remove the mount',
      '[docker-socket] home: Container home-watchtower-container ("watchtower"): mounts host path /var/run/../run: it gives the container the Docker socket (/run/docker.sock), a rootless Docker socket (/run/user/<uid>/docker.sock), the containerd socket (/run/containerd/containerd.sock), the Podman socket (/run/podman/podman.sock), a rootless Podman socket (/run/user/<uid>/podman/podman.sock), i.e. root on the host: remove the mount',
    ],
  ],
  [
    "docker-socket",
    "offsite",
    "Traefik's Docker provider on the unix socket",
    (f) => {
      editUpload(dockerContainer(f.offsite!, "traefik"), "/etc/traefik/traefik.yml", (s) =>
        s.replace(
          "endpoint: tcp://traefik-socket-proxy:2375",
          "endpoint: unix:///var/run/docker.sock",
        ),
      );
    },
    [
      '[docker-socket] offsite: Container offsite-traefik-container ("traefik"): Traefik\'s Docker provider endpoint is "unix:///var/run/docker.sock": point it at the socket proxy (tcp://traefik-socket-proxy:2375)',
    ],
  ],
  [
    "docker-socket",
    "cloud",
    "a socket proxy that allows writes on the proxy network, a Watchtower that updates everything",
    (f) => {
      const proxy = dockerContainer(f.cloud!, "traefik-socket-proxy");
      editEnvs(proxy, (l) => l.map((x) => (x === "POST=0" ? "POST=1" : x)));
      (proxy.inputs.networksAdvanced as { name: string }[]).push({ name: "homelab-proxy" });
      editEnvs(dockerContainer(f.cloud!, "watchtower"), (l) =>
        l
          .filter((x) => !x.startsWith("WATCHTOWER_LABEL_ENABLE="))
          .map((x) => x.replace("WATCHTOWER_MONITOR_ONLY=true", "WATCHTOWER_MONITOR_ONLY=false")),
      );
    },
    [
      '[docker-socket] cloud: Container cloud-traefik-socket-proxy ("traefik-socket-proxy"): the socket proxy lets clients write to the Docker API (POST=1): set POST=0',
      '[docker-socket] cloud: Container cloud-traefik-socket-proxy ("traefik-socket-proxy"): the socket proxy joins network "homelab-proxy", which is not internal: keep it on the internal socket network only',
      '[docker-socket] cloud: Container cloud-watchtower-container ("watchtower"): Watchtower may recreate containers Pulumi owns (WATCHTOWER_MONITOR_ONLY is not "true"), which breaks Pulumi\'s state: run it monitor-only and let pulumi up apply updates',
      '[docker-socket] cloud: Container cloud-watchtower-container ("watchtower"): Watchtower watches every container (WATCHTOWER_LABEL_ENABLE is not "true"): set it so only labelled containers are watched',
    ],
  ],
  [
    "routed-tls-headers",
    "offsite",
    "plain HTTP served, headers without frame denial, TLS 1.0 accepted",
    (f) => {
      const traefik = dockerContainer(f.offsite!, "traefik");
      editUpload(traefik, "/etc/traefik/traefik.yml", (s) =>
        s.replace(/ {4}http:\n {6}redirections:\n(?: {8}.*\n)+/, ""),
      );
      editUpload(traefik, DYNAMIC, (s) =>
        s
          .replace("        frameDeny: true\n", "")
          .replace("minVersion: VersionTLS12", "minVersion: VersionTLS10"),
      );
    },
    [
      '[routed-tls-headers] offsite: Container offsite-traefik-container ("traefik"): entry point "web" serves plain HTTP: redirect it to websecure',
      '[routed-tls-headers] offsite: Container offsite-traefik-container ("traefik"): the secure-headers middleware lacks HSTS, nosniff or frame denial (/etc/traefik/dynamic/homelab.yml): render it with renderTraefikDynamic()',
      '[routed-tls-headers] offsite: Container offsite-traefik-container ("traefik"): TLS accepts versions below 1.2 (tls.options.default.minVersion is "VersionTLS10"): set VersionTLS12',
    ],
  ],
  [
    "routed-tls-headers",
    "home",
    "routes without TLS, on port 80, without headers, without a router",
    (f) => {
      const vw = dockerContainer(f.home!, "vaultwarden");
      setLabel(vw, "traefik.http.routers.vaultwarden.tls", undefined);
      setLabel(vw, "traefik.http.routers.vaultwarden.middlewares", "");
      setLabel(vw, "traefik.http.routers.vaultwarden.entrypoints", "web,websecure");
      editUpload(dockerContainer(f.home!, "traefik"), DYNAMIC, (s) =>
        s.replace("        - secure-headers\n", ""),
      );
      const immich = dockerContainer(f.home!, "immich");
      for (const l of ["entrypoints", "middlewares", "rule", "service", "tls", "tls.certresolver"])
        setLabel(immich, `traefik.http.routers.immich.${l}`, undefined);
    },
    [
      '[routed-tls-headers] home: Container home-immich-container ("immich"): traefik.enable=true but no router labels: route it with traefikLabels()',
      '[routed-tls-headers] home: Container home-traefik-container ("traefik"): file router "dashboard" lacks the security headers: add secure-headers to its middlewares',
      '[routed-tls-headers] home: Container home-vaultwarden-container ("vaultwarden"): router "vaultwarden" has no TLS: set tls=true and tls.certresolver=letsencrypt',
      '[routed-tls-headers] home: Container home-vaultwarden-container ("vaultwarden"): router "vaultwarden" listens on "web,websecure": use websecure only',
      '[routed-tls-headers] home: Container home-vaultwarden-container ("vaultwarden"): router "vaultwarden" lacks the security headers: add secure-headers@file to its middlewares',
    ],
  ],
  [
    "admin-auth",
    "cloud",
    "Syncthing GUI, private Gatus, Traefik dashboard and mail admin without a login",
    (f) => {
      editUpload(dockerContainer(f.cloud!, "syncthing"), XML, (s) =>
        s.replace(/<password>[^<]*<\/password>/, "<password></password>"),
      );
      editUpload(dockerContainer(f.cloud!, "gatus"), GATUS, (s) =>
        s.replace(/^security:\n(?: {2}.*\n)+/m, ""),
      );
      editUpload(dockerContainer(f.cloud!, "traefik"), DYNAMIC, (s) =>
        s.replace("        - admin-auth\n", ""),
      );
      setLabel(
        dockerContainer(f.cloud!, "mail"),
        "traefik.http.routers.mail.middlewares",
        "secure-headers@file",
      );
    },
    [
      '[admin-auth] cloud: Container cloud-gatus-container ("gatus"): the Gatus status page is private but /config/config.yaml has no security.basic login (or its password is empty): render it with private: true, or set gatusPublic: true to publish it on purpose',
      '[admin-auth] cloud: Container cloud-mail-container ("mail"): "mail" is an admin UI (http.admin) but router "mail" has no admin-auth@file: add it to the router\'s middlewares',
      '[admin-auth] cloud: Container cloud-syncthing-container ("syncthing"): the Syncthing GUI has no login (/etc/syncthing/config.xml lacks <gui><user> and <password>): render it with gui user and bcrypt password',
      '[admin-auth] cloud: Container cloud-traefik-container ("traefik"): dashboard router "dashboard" does not go through the single sign-on: admin-auth must be its forwardAuth middleware (before the SSO server\'s first deploy there is none: deploy it first)',
    ],
  ],
  [
    "admin-auth",
    "offsite",
    "an insecure Traefik API, and admin auth back on basic auth although the fleet has SSO",
    (f) => {
      const traefik = dockerContainer(f.offsite!, "traefik");
      editUpload(traefik, "/etc/traefik/traefik.yml", (s) =>
        s.replace("api:\n  dashboard: true\n", "api:\n  dashboard: true\n  insecure: true\n"),
      );
      editUpload(traefik, DYNAMIC, (s) =>
        s.replace(
          /admin-auth:\n {6}forwardAuth:\n(?: {8}.*\n)+/,
          "admin-auth:\n      basicAuth:\n        usersFile: /etc/traefik/users\n",
        ),
      );
    },
    [
      '[admin-auth] offsite: Container offsite-traefik-container ("traefik"): api.insecure exposes the dashboard without a login on :8080: remove it',
      '[admin-auth] offsite: Container offsite-traefik-container ("traefik"): dashboard router "dashboard" does not go through the single sign-on: admin-auth must be its forwardAuth middleware (before the SSO server\'s first deploy there is none: deploy it first)',
    ],
  ],
  [
    "backed-up",
    "home",
    "a service without its backup sidecar, a skipped volume without a dump",
    (f) => {
      removeContainer(f.home!, "vaultwarden-backup");
      volumesOf(f, "home", "immich-backup").find(
        (m) => m.volumeName === "immich-library",
      )!.readOnly = false;
      editUpload(dockerContainer(f.home!, "immich-db-backup"), SCRIPT, (s) =>
        s.replace(/^DUMP_COMMAND='.*'$/m, "DUMP_COMMAND=''"),
      );
    },
    [
      '[backed-up] home: Container home-immich-backup-container ("immich-backup"): mounts data volume "immich-library" read-write: a backup only reads, mount it readOnly',
      '[backed-up] home: Container home-immich-db-container ("immich-db"): data volume "immich-db-pgdata" is not backed up (no immich-db-backup copies it and there is no dump): drop it from backup.skipVolumes or add a backup.dump, or declare it kind: "cache" if it can be lost',
      '[backed-up] home: Container home-vaultwarden-container ("vaultwarden"): data volume "vaultwarden-data" is not backed up (no vaultwarden-backup copies it and there is no dump): drop it from backup.skipVolumes or add a backup.dump, or declare it kind: "cache" if it can be lost',
    ],
  ],
  [
    "backed-up",
    "cloud",
    "a standard component's state without its backup; the rebuilt volumes pass",
    (f) => {
      removeContainer(f.cloud!, "authelia-backup");
      // Gatus' history and the ACME certificates are rebuilt (components/defaults.ts
      // REBUILT_VOLUMES): they need no sidecar, and raise nothing.
      expect(volumesOf(f, "cloud", "gatus").map((m) => m.volumeName)).toEqual(["gatus-data"]);
      expect(volumesOf(f, "cloud", "traefik").map((m) => m.volumeName)).toEqual(["traefik-acme"]);
    },
    [
      '[backed-up] cloud: Container cloud-sso-container ("authelia"): data volume "authelia-data" of the standard component authelia is not backed up (no authelia-backup copies it): back it up in componentStates (components/component-state.ts), or name it in REBUILT_VOLUMES (components/defaults.ts) with why it may be lost',
    ],
  ],
  [
    "consistent-capture",
    "home",
    "a backup that does not say how it captures",
    (f) =>
      editUpload(dockerContainer(f.home!, "vaultwarden-backup"), SCRIPT, (s) =>
        s.replace(/^CAPTURE='sqlite'$/m, "CAPTURE=''"),
      ),
    [
      '[consistent-capture] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): backs up vaultwarden without saying how its data is captured consistently (CAPTURE=""): declare backup.capture (files, sqlite, dump, stop or hook; docs/restore.md)',
    ],
  ],
  [
    "consistent-capture",
    "cloud",
    "a stop job's proxy that may also stop Traefik, and a network it shares with Traefik",
    (f) => {
      editUpload(dockerContainer(f.cloud!, "mail-backup-docker"), DOCKER_PROXY.configPath, () =>
        renderDockerProxyConfig({ stop: ["mail", "traefik"] }),
      );
      const traefik = dockerContainer(f.cloud!, "traefik");
      traefik.inputs.networksAdvanced = [
        ...(traefik.inputs.networksAdvanced as { name: string }[]),
        { name: "mail-backup-docker" },
      ];
    },
    [
      '[consistent-capture] cloud: Container cloud-mail-backup-proxy ("mail-backup-docker"): may stop and start traefik, which is not mail or a service of its group: a backup job may stop only its own service',
      '[consistent-capture] cloud: Container cloud-mail-backup-proxy ("mail-backup-docker"): allows stop/start of [mail, traefik] but the job stops [mail]',
      '[consistent-capture] cloud: Container cloud-mail-backup-proxy ("mail-backup-docker"): shares network "mail-backup-docker" with traefik: only mail-backup may reach it',
    ],
  ],
  [
    "consistent-capture",
    "cloud",
    "a stop job's proxy published on a host port",
    (f) => {
      dockerContainer(f.cloud!, "mail-backup-docker").inputs.ports = [
        { internal: 2375, external: 2375, protocol: "tcp" },
      ];
    },
    [
      '[consistent-capture] cloud: Container cloud-mail-backup-proxy ("mail-backup-docker"): publishes ports: only mail-backup may reach it',
    ],
  ],
  [
    "replicated",
    "cloud",
    "its repositories received by nobody, and shared send-receive",
    (f) => {
      for (const s of ["home", "offsite"])
        editUpload(dockerContainer(f[s]!, "syncthing"), XML, (x) =>
          x.replace(/(<folder id="backups-cloud"[^>]*type=")receiveonly/, "$1sendreceive"),
        );
    },
    ["authelia", "mail", "ntfy"].map(
      (r) =>
        `[replicated] cloud: Container cloud-${r}-backup-container ("${r}-backup"): repository /backups/cloud/${r} is not replicated receive-only to any other server (checked home, offsite): list a peer in backupReplicateTo and deploy it`,
    ),
  ],
  [
    "replicated",
    "home",
    "a replica nobody verifies, a writer folder that is not send-only",
    (f) => {
      editUpload(dockerContainer(f.offsite!, "backup-replicas"), SCRIPT, (s) =>
        s.replace("'/backups/home/vaultwarden'", "'/backups/home/vaultwardn'"),
      );
      editUpload(dockerContainer(f.cloud!, "backup-replicas"), SCRIPT, (s) =>
        s.replace("'/backups/home/vaultwarden'", "'/backups/home/vaultwardn'"),
      );
      editUpload(dockerContainer(f.home!, "syncthing"), XML, (s) =>
        s.replace(/(<folder id="backups-home"[^>]*type=")sendonly/, "$1sendreceive"),
      );
    },
    [
      '[replicated] home: Container home-home-assistant-backup-container ("home-assistant-backup"): folder "backups-home" holding /backups/home/home-assistant is sendreceive: the writer must share it sendonly',
      '[replicated] home: Container home-immich-backup-container ("immich-backup"): folder "backups-home" holding /backups/home/immich is sendreceive: the writer must share it sendonly',
      '[replicated] home: Container home-immich-db-backup-container ("immich-db-backup"): folder "backups-home" holding /backups/home/immich-db is sendreceive: the writer must share it sendonly',
      '[replicated] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): folder "backups-home" holding /backups/home/vaultwarden is sendreceive: the writer must share it sendonly',
    ],
  ],
  [
    "replicated",
    "home",
    "a replica on cloud and offsite that neither verifies",
    (f) => {
      for (const s of ["cloud", "offsite"])
        editUpload(dockerContainer(f[s]!, "backup-replicas"), SCRIPT, (x) =>
          x.replace("'/backups/home/vaultwarden'", "'/backups/home/vaultwardn'"),
        );
    },
    [
      '[replicated] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): the replica of /backups/home/vaultwarden on cloud, offsite is never checked: the receiving server\'s backup-replicas must list it',
    ],
  ],
  [
    "monitored",
    "home",
    "a route its own Gatus skips, routes no peer watches",
    (f) => {
      editUpload(dockerContainer(f.home!, "gatus"), GATUS, (s) =>
        s.replace("https://vault.home.example.com/alive", "https://vault.example.org/alive"),
      );
      for (const p of ["cloud", "offsite"])
        editUpload(dockerContainer(f[p]!, "gatus"), GATUS, (s) =>
          s
            .replaceAll("https://photos.home.example.com", "https://photos.example.org")
            .replaceAll("https://status.home.example.com", "https://status.example.org"),
        );
    },
    [
      '[monitored] home: Container home-gatus-container ("gatus"): https://status.home.example.com is not watched from any other server (checked cloud, offsite): publish it in the endpoints output and list home in another server\'s peers',
      '[monitored] home: Container home-immich-container ("immich"): https://photos.home.example.com is not watched from any other server (checked cloud, offsite): publish it in the endpoints output and list home in another server\'s peers',
      '[monitored] home: Container home-vaultwarden-container ("vaultwarden"): https://vault.home.example.com is not watched by home\'s own Gatus: derive its endpoint with serviceEndpoints() and pass it to Gatus as local',
    ],
  ],
  [
    "heartbeat",
    "home",
    "a job without a heartbeat key, a heartbeat Gatus does not expect",
    (f) => {
      editUpload(dockerContainer(f.home!, "gatus"), GATUS, (s) =>
        s.replace("name: backup-vaultwarden", "name: backup-vaultwarden-old"),
      );
      editUpload(dockerContainer(f.home!, "immich-backup"), SCRIPT, (s) =>
        s.replace("HB_DRILL='home-jobs_drill-immich'", "HB_DRILL=''"),
      );
    },
    [
      '[heartbeat] home: Container home-immich-backup-container ("immich-backup"): the drill job of /backups/home/immich sends no heartbeat: give it a heartbeat key (heartbeatKeys()) and an external endpoint in Gatus',
      '[heartbeat] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): the backup job of /backups/home/vaultwarden reports to "home-jobs_backup-vaultwarden", which home\'s Gatus does not expect: add it to the heartbeats (external-endpoints)',
    ],
  ],
  [
    "heartbeat",
    "cloud",
    "a stop capture's downtime Gatus does not expect",
    (f) =>
      editUpload(dockerContainer(f.cloud!, "gatus"), GATUS, (s) =>
        s.replace("name: downtime-mail", "name: downtime-mail-old"),
      ),
    [
      '[heartbeat] cloud: Container cloud-mail-backup-container ("mail-backup"): the downtime job of /backups/cloud/mail reports to "cloud-jobs_downtime-mail", which cloud\'s Gatus does not expect: add it to the heartbeats (external-endpoints)',
    ],
  ],
  [
    "heartbeat",
    "offsite",
    "a replica verify Gatus does not expect",
    (f) => {
      const key = replicaVerifyKey(f);
      editUpload(dockerContainer(f.offsite!, "gatus"), GATUS, (s) => {
        const cfg = parse(s) as { "external-endpoints": { group: string; name: string }[] };
        cfg["external-endpoints"] = cfg["external-endpoints"].filter(
          (x) => `${x.group}_${x.name}` !== key,
        );
        return stringify(cfg);
      });
    },
    (f) => [
      `[heartbeat] offsite: Container offsite-backup-replicas-container ("backup-replicas"): the verify job of /backups/cloud/mail reports to "${replicaVerifyKey(f)}", which offsite's Gatus does not expect: add it to the heartbeats (external-endpoints)`,
    ],
  ],
  [
    "heartbeat",
    "home",
    "two sidecars with one heartbeat token (one could report for the other)",
    (f) => {
      const vw = reveal(uploadOf(container(f.home!, "vaultwarden-backup"), HB_TOKEN).content);
      editUpload(dockerContainer(f.home!, "immich-backup"), HB_TOKEN, () => String(vw));
    },
    [
      '[heartbeat] home: Container home-immich-backup-container ("immich-backup"): holds the same heartbeat token as vaultwarden-backup: one job could report for another\'s; give each container its own token (Gatus heartbeatSenders)',
      '[heartbeat] home: Container home-immich-backup-container ("immich-backup"): the backup job of /backups/home/immich reports to "home-jobs_backup-immich" with a token Gatus does not accept for it: the endpoint\'s token must be this container\'s /run/homelab/heartbeat-token',
      '[heartbeat] home: Container home-immich-backup-container ("immich-backup"): the check job of /backups/home/immich reports to "home-jobs_check-immich" with a token Gatus does not accept for it: the endpoint\'s token must be this container\'s /run/homelab/heartbeat-token',
      '[heartbeat] home: Container home-immich-backup-container ("immich-backup"): the drill job of /backups/home/immich reports to "home-jobs_drill-immich" with a token Gatus does not accept for it: the endpoint\'s token must be this container\'s /run/homelab/heartbeat-token',
      '[heartbeat] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): holds the same heartbeat token as immich-backup: one job could report for another\'s; give each container its own token (Gatus heartbeatSenders)',
    ],
  ],
  [
    "drilled-elsewhere",
    "home",
    "cloud no longer drills home's replicas, and offsite keeps them without the key",
    (f) => {
      editUpload(dockerContainer(f.cloud!, "backup-replicas"), "/etc/crontabs/root", (s) =>
        s.replace(/^.* drill .*\n/m, ""),
      );
    },
    [
      '[drilled-elsewhere] home: Container home-home-assistant-backup-container ("home-assistant-backup"): /backups/home/home-assistant is restore-drilled nowhere but on home (offsite keeps it without the key): replicate it (backupReplicateTo) to a peer with trust: full, which drills it with the key',
      '[drilled-elsewhere] home: Container home-immich-backup-container ("immich-backup"): /backups/home/immich is restore-drilled nowhere but on home (offsite keeps it without the key): replicate it (backupReplicateTo) to a peer with trust: full, which drills it with the key',
      '[drilled-elsewhere] home: Container home-immich-db-backup-container ("immich-db-backup"): /backups/home/immich-db is restore-drilled nowhere but on home (offsite keeps it without the key): replicate it (backupReplicateTo) to a peer with trust: full, which drills it with the key',
      '[drilled-elsewhere] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): /backups/home/vaultwarden is restore-drilled nowhere but on home (offsite keeps it without the key): replicate it (backupReplicateTo) to a peer with trust: full, which drills it with the key',
    ],
  ],
  [
    "drilled-elsewhere",
    "cloud",
    "home drills cloud's mail with a wrong password",
    (f) => {
      const script = uploadOf(container(f.home!, "backup-replicas"), SCRIPT).content;
      const file = /RESTIC_REPOSITORY='\/backups\/cloud\/mail' RESTIC_PASSWORD_FILE='([^']+)'/.exec(
        script,
      )![1]!;
      editUpload(dockerContainer(f.home!, "backup-replicas"), file, () => "not-the-password");
    },
    [
      '[drilled-elsewhere] cloud: Container cloud-mail-backup-container ("mail-backup"): /backups/cloud/mail is restore-drilled nowhere but on cloud (offsite keeps it without the key): replicate it (backupReplicateTo) to a peer with trust: full, which drills it with the key',
    ],
  ],
  [
    "keyless-storage",
    "offsite",
    "cloud's mail password uploaded into offsite's backup-replicas",
    (f) => {
      const pw = (reveal(f.cloud!.outputs.backupPasswords) as Record<string, string>).mail!;
      const c = dockerContainer(f.offsite!, "backup-replicas");
      const list = (c.inputs.uploads as Secret).value as unknown[];
      list.push({ file: "/run/homelab/repo-1-password", content: new Secret(pw) });
    },
    [
      '[keyless-storage] offsite: Container offsite-backup-replicas-container ("backup-replicas"): holds the restic password of cloud\'s mail on a server with trust: storage: a storage-only server keeps ciphertext only; verify its replicas without the key',
    ],
  ],
  [
    "backup-isolation",
    "home",
    "a sidecar with the whole volume, one with another's repository, writable replicas, a lasting layout job",
    (f) => {
      volumesOf(f, "home", "vaultwarden-backup").push({
        volumeName: "homelab-backups",
        containerPath: "/backups",
      });
      mountsOf(f, "home", "immich-backup").push({
        type: "volume",
        source: "homelab-backups",
        target: "/backups/home/vaultwarden",
        volumeOptions: { subpath: "home/vaultwarden" },
      });
      for (const m of mountsOf(f, "home", "backup-replicas")) m.readOnly = false;
      for (const m of mountsOf(f, "home", "syncthing")) m.readOnly = false;
      dockerContainer(f.home!, "backup-layout").inputs.restart = "unless-stopped";
    },
    [
      '[backup-isolation] home: Container home-backup-layout-container ("backup-layout"): mounts the whole homelab-backups volume and keeps running (restart: unless-stopped): the layout job must run once and stop (oneShot)',
      '[backup-isolation] home: Container home-backup-replicas-container ("backup-replicas"): mounts cloud of homelab-backups read-write, more than the peers\' folders, read-only',
      '[backup-isolation] home: Container home-backup-replicas-container ("backup-replicas"): mounts offsite of homelab-backups read-write, more than the peers\' folders, read-only',
      '[backup-isolation] home: Container home-immich-backup-container ("immich-backup"): mounts home/vaultwarden of homelab-backups read-write, more than its own repository (/backups/home/immich)',
      '[backup-isolation] home: Container home-syncthing-container ("syncthing"): mounts home of homelab-backups read-write, more than its own folder read-only and the peers\' folders',
      '[backup-isolation] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): mounts the whole homelab-backups volume at /backups: it would reach every repository and replica; mount only its own directory (a volume subpath)',
    ],
  ],
  [
    "no-latest",
    "home",
    "stateful services on latest and untagged (a stateless one may)",
    (f) => {
      dockerContainer(f.home!, "vaultwarden").inputs.image = "vaultwarden/server:latest";
      dockerContainer(f.home!, "immich-db").inputs.image = "ghcr.io/immich-app/postgres";
      dockerContainer(f.home!, "immich-redis").inputs.image = "valkey/valkey:latest";
    },
    [
      '[no-latest] home: Container home-immich-db-container ("immich-db"): holds data but runs "ghcr.io/immich-app/postgres", a moving tag: pin a version tag (e.g. ghcr.io/immich-app/postgres:<version>)',
      '[no-latest] home: Container home-vaultwarden-container ("vaultwarden"): holds data but runs "vaultwarden/server:latest", a moving tag: pin a version tag (e.g. vaultwarden/server:<version>)',
    ],
  ],
  [
    "restart-and-logs",
    "offsite",
    "no restart policy, logs without max-size, no log driver",
    (f) => {
      const wt = dockerContainer(f.offsite!, "watchtower");
      wt.inputs.restart = "no";
      wt.inputs.logOpts = { "max-file": "3" };
      delete dockerContainer(f.offsite!, "gatus").inputs.logDriver;
    },
    [
      '[restart-and-logs] offsite: Container offsite-gatus-container ("gatus"): logs are not rotated (logDriver "default", max-size "10m"): set logDriver: "json-file" with logOpts max-size and max-file',
      '[restart-and-logs] offsite: Container offsite-watchtower-container ("watchtower"): restart policy is "no": set restart: "unless-stopped"',
      '[restart-and-logs] offsite: Container offsite-watchtower-container ("watchtower"): logs are not rotated (logDriver "json-file", max-size "unset"): set logDriver: "json-file" with logOpts max-size and max-file',
    ],
  ],
  [
    "unique-host-ports",
    "cloud",
    "mail publishing 443/tcp and 22000/udp",
    (f) => {
      (dockerContainer(f.cloud!, "mail").inputs.ports as unknown[]).push(
        { internal: 8443, external: 443, protocol: "tcp" },
        { internal: 22000, external: 22000, protocol: "udp" },
      );
    },
    [
      '[unique-host-ports] cloud: Container cloud-syncthing-container ("syncthing"): host port 22000/udp is already published by "mail" on cloud: choose another hostPort',
      '[unique-host-ports] cloud: Container cloud-traefik-container ("traefik"): host port 443/tcp is already published by "mail" on cloud: choose another hostPort',
    ],
  ],
  [
    "unique-hosts",
    "cloud",
    "cloud's mail routed at home's Traefik host",
    (f) =>
      setLabel(
        dockerContainer(f.cloud!, "mail"),
        "traefik.http.routers.mail.rule",
        "Host(`traefik.home.example.com`)",
      ),
    [
      '[unique-hosts] cloud: Container cloud-mail-container ("mail"): https://traefik.home.example.com is also routed by home: DNS can send it to one server only. Two servers share a domain (or a service takes another server\'s host): give each server its own domain',
    ],
  ],
  [
    "no-plaintext-secret",
    "home",
    "a password in plain envs and outputs, a secret label, a plain credential env",
    (f) => {
      const immich = dockerContainer(f.home!, "immich");
      immich.inputs.envs = reveal(immich.inputs.envs);
      f.home!.outputs.backupPasswords = {
        vaultwarden: (reveal(f.home!.outputs.backupPasswords) as Record<string, string>)
          .vaultwarden,
      } as unknown;
      setLabel(dockerContainer(f.home!, "vaultwarden"), "homelab.note", new Secret("x"));
      (dockerContainer(f.home!, "vaultwarden").inputs.envs as string[]).push("ADMIN_TOKEN=hunter2");
    },
    [
      '[no-plaintext-secret] home: Container home-immich-container ("immich"): env DB_PASSWORD holds in plain text a value that is secret in Container home-immich-db-backup-container ("immich-db-backup") upload /run/homelab/dump.env: pass it as a secret Output (pulumi.secret), never as text',
      '[no-plaintext-secret] home: Container home-vaultwarden-container ("vaultwarden"): env ADMIN_TOKEN looks like a credential but is plain text: declare it in secrets and use { secret: "<name>" }, or set it with pulumi config set --secret',
      '[no-plaintext-secret] home: Container home-vaultwarden-container ("vaultwarden"): label homelab.note puts a secret into a Docker label, readable by anyone who can inspect the container: move it to an env value or a secret file',
      '[no-plaintext-secret] home: output backupPasswords: outputs.backupPasswords.vaultwarden holds in plain text a value that is secret in Container home-vaultwarden-backup-container ("vaultwarden-backup") upload /run/homelab/restic-password: wrap the output in pulumi.secret',
    ],
  ],
];

describe("each guardrail fires on a broken fixture", () => {
  it("every guardrail has at least one broken fixture", () => {
    expect([...new Set(BROKEN.map(([id]) => id))].sort()).toEqual([...IDS].sort());
  });

  it.each(BROKEN)("%s on %s: %s", async (id, stack, _what, edit, expected) => {
    const { evaluations } = await referenceFleet();
    const fleet = broken(evaluations, edit);
    expect(run(fleet, stack, id)).toEqual(
      typeof expected === "function" ? expected(evaluations) : expected,
    );
    // The original fleet is untouched by the edit.
    expect(run(evaluations, stack, id)).toEqual([]);
  });
});

describe("guardrails on a re-evaluated stack config", () => {
  const peersOf = (fleet: Fleet) =>
    Object.fromEntries(STACK_NAMES.map((s) => [s, asPeerOutputs(fleet[s]!)]));

  it("a public Gatus is a finding unless the config says so on purpose", async () => {
    const { evaluations } = await referenceFleet();
    const home = await evaluateReference("home", {
      overrides: { gatusPublic: true },
      peers: peersOf(evaluations),
    });
    const fleet = { ...evaluations, home };
    // Made public, it lost both its own login and the single sign-on in front of it.
    expect(checkStack(home, { fleet, intent }).map(formatFinding)).toEqual([
      '[admin-auth] home: Container home-gatus-container ("gatus"): the fleet has single sign-on but router "gatus" of "gatus" does not go through it: add admin-auth@file to its middlewares (routes open on purpose must be limited to exact paths)',
      '[admin-auth] home: Container home-gatus-container ("gatus"): the Gatus status page is private but /config/config.yaml has no security.basic login (or its password is empty): render it with private: true, or set gatusPublic: true to publish it on purpose',
    ]);
    const meant = {
      ...intent,
      home: intentOf("home", referenceRaw("home", { gatusPublic: true })),
    };
    expect(meant.home.gatusPublic).toBe(true);
    expect(checkStack(home, { fleet, intent: meant })).toEqual([]);
  });

  it("backups that replicate nowhere are findings, one per repository", async () => {
    const { evaluations } = await referenceFleet();
    const home = await evaluateReference("home", {
      overrides: { backupReplicateTo: [] },
      peers: peersOf(evaluations),
    });
    const fleet = { ...evaluations, home };
    const tail =
      "is not replicated receive-only to any other server (checked cloud, offsite): list a peer in backupReplicateTo and deploy it";
    expect(checkStack(home, { fleet, intent }).map(formatFinding)).toEqual([
      `[replicated] home: Container home-home-assistant-backup-container ("home-assistant-backup"): repository /backups/home/home-assistant ${tail}`,
      `[replicated] home: Container home-immich-backup-container ("immich-backup"): repository /backups/home/immich ${tail}`,
      `[replicated] home: Container home-immich-db-backup-container ("immich-db-backup"): repository /backups/home/immich-db ${tail}`,
      `[replicated] home: Container home-vaultwarden-backup-container ("vaultwarden-backup"): repository /backups/home/vaultwarden ${tail}`,
    ]);
  });

  it("two servers with the same domain: every host of the second is a finding (issue 11, item 9)", async () => {
    const { evaluations } = await referenceFleet();
    const cloud = await evaluateReference("cloud", {
      overrides: { domain: "home.example.com" },
      peers: peersOf(evaluations),
    });
    const fleet = { ...evaluations, cloud };
    const tail =
      "is also routed by home: DNS can send it to one server only. Two servers share a domain (or a service takes another server's host): give each server its own domain";
    expect(checkStack(cloud, { fleet, intent }, ["unique-hosts"]).map(formatFinding)).toEqual([
      `[unique-hosts] cloud: Container cloud-gatus-container ("gatus"): https://status.home.example.com ${tail}`,
      `[unique-hosts] cloud: Container cloud-syncthing-container ("syncthing"): https://sync.home.example.com ${tail}`,
      `[unique-hosts] cloud: Container cloud-traefik-container ("traefik"): https://traefik.home.example.com ${tail}`,
    ]);
    // The program says so itself, from the peers' outputs, at every run of the stack.
    expect(cloud.warnings).toContain(
      'peer "home" publishes endpoints on hosts cloud routes too (sync.home.example.com, traefik.home.example.com): two servers share a domain? Give each server its own domain (homelab:domain); until then DNS sends each host to one of them only.',
    );
  });

  it("a server alone is watched and replicated by nobody", async () => {
    const { evaluations } = await referenceFleet();
    const cloud = evaluations.cloud!;
    const alone = checkStack(cloud, { fleet: { cloud }, intent }, ["monitored", "replicated"]).map(
      formatFinding,
    );
    const unwatched = (c: string, sub: string) =>
      `[monitored] cloud: Container cloud-${c}-container ("${c}"): https://${sub}.cloud.example.com is not watched from any other server: publish it in the endpoints output and list cloud in another server's peers`;
    expect(alone).toEqual([
      ...["authelia", "mail", "ntfy"].map(
        (r) =>
          `[replicated] cloud: Container cloud-${r}-backup-container ("${r}-backup"): repository /backups/cloud/${r} is not replicated receive-only to any other server: list a peer in backupReplicateTo and deploy it`,
      ),
      unwatched("gatus", "status"),
      unwatched("homepage", "homepage"),
      unwatched("mail", "mail"),
      unwatched("ntfy", "ntfy"),
      unwatched("ntfy", "ntfy")
        .replaceAll("ntfy-container", "sso-container")
        .replace('("ntfy")', '("authelia")')
        .replace("https://ntfy.", "https://auth."),
      unwatched("syncthing", "sync"),
      unwatched("traefik", "traefik"),
    ]);
  });
});

describe("the plan's warnings come from the guardrails", () => {
  it("a broken stack's findings are warnings of its plan; the reference fleet has none", async () => {
    const fleetResult = await referenceFleet();
    const plans = serverPlans(fleetResult);
    const evaluations = broken(fleetResult.evaluations, (f) => {
      resource(f.home!, volume, "home-vaultwarden-data").options.retainOnDelete = false;
    });
    const warnings = planWarnings({ evaluations, plans, missing: [], intent });
    expect(warnings.home).toEqual([
      'guardrail data-volume-retained: Volume home-vaultwarden-data: data volume "vaultwarden-data" would be deleted by a rename or destroy: set retainOnDelete: true (or protect: true)',
    ]);
    expect(warnings.cloud).toEqual([]);
    expect(
      planWarnings({ evaluations: fleetResult.evaluations, plans, missing: [], intent }),
    ).toEqual({
      home: [],
      cloud: [],
      offsite: [],
    });
  });

  it("the intent comes from the stack config as Pulumi hands it over", () => {
    for (const s of STACK_NAMES) {
      expect(intentFromConfig(s, referenceConfig(s))).toEqual(intent[s]);
    }
    expect(intent.cloud).toEqual({
      gatusPublic: false,
      adminServices: ["mail", "homepage"],
      sso: true,
    });
  });
});

describe("guardrails on a real evaluation of a careless declaration", () => {
  it("a new service on latest, without backup, routed but unwatched by peers: each is a finding", async () => {
    const { evaluations } = await referenceFleet();
    const peers = Object.fromEntries(STACK_NAMES.map((s) => [s, asPeerOutputs(evaluations[s]!)]));
    const declare = () => ({
      role: "test",
      services: [
        {
          name: "notes",
          image: "example/notes:latest",
          http: { port: 8080, admin: true },
          volumes: [{ name: "data", path: "/data" }],
          backup: { enabled: false },
        },
      ],
    });
    const offsite = await evaluateStack("offsite", referenceConfig("offsite"), {
      peers,
      quiet: true,
      declare,
    });
    const fleet = { ...evaluations, offsite };
    const meant = { ...intent, offsite: intentOf("offsite", referenceRaw("offsite"), declare) };
    expect(meant.offsite.adminServices).toEqual(["notes"]);
    expect(checkStack(offsite, { fleet, intent: meant }).map(formatFinding)).toEqual([
      '[backed-up] offsite: Container offsite-notes-container ("notes"): data volume "notes-data" is not backed up (no notes-backup copies it and there is no dump): drop it from backup.skipVolumes or add a backup.dump, or declare it kind: "cache" if it can be lost',
      '[monitored] offsite: Container offsite-notes-container ("notes"): https://notes.offsite.example.com is not watched from any other server (checked home, cloud): publish it in the endpoints output and list offsite in another server\'s peers',
      '[no-latest] offsite: Container offsite-notes-container ("notes"): holds data but runs "example/notes:latest", a moving tag: pin a version tag (e.g. example/notes:<version>)',
    ]);
  });
});

/**
 * The guardrails (lib/guardrails): every check holds on the three reference stacks, and each
 * one fires, naming the resource and the fix, on a deliberately broken copy of them.
 */
import { describe, expect, it } from "vitest";
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
      expect(values.length).toBe({ home: 7, cloud: 10, offsite: 3 }[stack]);
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
/** The heartbeat key of offsite's check of cloud's mail replica, as its script has it. */
const replicaCheckKey = (f: Fleet) => {
  const script = uploadOf(container(f.offsite!, "backup-replicas"), SCRIPT).content;
  return scriptRepos(script).find((r) => r.repository === "/backups/cloud/mail")!.heartbeats.check!;
};

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
      '[docker-socket] home: Container home-vaultwarden-container ("vaultwarden"): mounts /run/docker.sock, which only the socket proxy (read-only) and Watchtower may hold: remove the mount',
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
      '[admin-auth] cloud: Container cloud-traefik-container ("traefik"): dashboard router "dashboard" has no basic auth with users: add the admin-auth middleware and upload its users file',
    ],
  ],
  [
    "admin-auth",
    "offsite",
    "an insecure Traefik API and an empty users file",
    (f) => {
      const traefik = dockerContainer(f.offsite!, "traefik");
      editUpload(traefik, "/etc/traefik/traefik.yml", (s) =>
        s.replace("api:\n  dashboard: true\n", "api:\n  dashboard: true\n  insecure: true\n"),
      );
      editUpload(traefik, "/etc/traefik/users", () => "");
    },
    [
      '[admin-auth] offsite: Container offsite-traefik-container ("traefik"): api.insecure exposes the dashboard without a login on :8080: remove it',
      '[admin-auth] offsite: Container offsite-traefik-container ("traefik"): dashboard router "dashboard" has no basic auth with users: add the admin-auth middleware and upload its users file',
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
    "replicated",
    "cloud",
    "the only repository of cloud received by nobody, and shared send-receive",
    (f) => {
      for (const s of ["home", "offsite"])
        editUpload(dockerContainer(f[s]!, "syncthing"), XML, (x) =>
          x.replace(/(<folder id="backups-cloud"[^>]*type=")receiveonly/, "$1sendreceive"),
        );
    },
    [
      '[replicated] cloud: Container cloud-mail-backup-container ("mail-backup"): repository /backups/cloud/mail is not replicated receive-only to any other server (checked home, offsite): list a peer in backupReplicateTo and deploy it',
    ],
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
    "offsite",
    "a replica check Gatus does not expect",
    (f) => {
      const key = replicaCheckKey(f);
      editUpload(dockerContainer(f.offsite!, "gatus"), GATUS, (s) => {
        const cfg = parse(s) as { "external-endpoints": { group: string; name: string }[] };
        cfg["external-endpoints"] = cfg["external-endpoints"].filter(
          (x) => `${x.group}_${x.name}` !== key,
        );
        return stringify(cfg);
      });
    },
    (f) => [
      `[heartbeat] offsite: Container offsite-backup-replicas-container ("backup-replicas"): the check job of /backups/cloud/mail reports to "${replicaCheckKey(f)}", which offsite's Gatus does not expect: add it to the heartbeats (external-endpoints)`,
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
    "no-plaintext-secret",
    "home",
    "a password in plain envs and outputs, a secret label, a plain credential env",
    (f) => {
      const immich = dockerContainer(f.home!, "immich");
      immich.inputs.envs = (immich.inputs.envs as Secret).value;
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
    expect(checkStack(home, { fleet, intent }).map(formatFinding)).toEqual([
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

  it("a server alone is watched and replicated by nobody", async () => {
    const { evaluations } = await referenceFleet();
    const cloud = evaluations.cloud!;
    const alone = checkStack(cloud, { fleet: { cloud }, intent }, ["monitored", "replicated"]).map(
      formatFinding,
    );
    const unwatched = (c: string, sub: string) =>
      `[monitored] cloud: Container cloud-${c}-container ("${c}"): https://${sub}.cloud.example.com is not watched from any other server: publish it in the endpoints output and list cloud in another server's peers`;
    expect(alone).toEqual([
      '[replicated] cloud: Container cloud-mail-backup-container ("mail-backup"): repository /backups/cloud/mail is not replicated receive-only to any other server: list a peer in backupReplicateTo and deploy it',
      unwatched("gatus", "status"),
      unwatched("homepage", "homepage"),
      unwatched("mail", "mail"),
      unwatched("ntfy", "ntfy"),
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
    expect(intent.cloud).toEqual({ gatusPublic: false, adminServices: ["mail", "homepage"] });
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

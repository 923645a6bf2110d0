/**
 * The lab as the end-to-end tests see it: the servers made by scripts/lab/lab.sh (addresses,
 * SSH), the docker CLI against each server's engine over SSH, the fleet evaluated for the lab's
 * addresses, and a recorder standing in for Gatus and ntfy.
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttp, IncomingMessage, ServerResponse, Server } from "node:http";
import { createServer as createHttps } from "node:https";
import { join } from "node:path";
import { Evaluation, PeerOutputs, asPeerOutputs } from "../../cli/evaluate";
import { ROOT, evaluateReference } from "../helpers";
import { HOME_DOMAIN, LAB_DIR, NTFY_HOST, RECORDER_PORTS } from "./constants";

export { HOME_DOMAIN, LAB_DIR, NTFY_HOST, RECORDER_PORTS };
export const LAB_SCRIPT = join(ROOT, "scripts", "lab", "lab.sh");

export type ServerName = "home" | "offsite";
export const SERVERS: ServerName[] = ["home", "offsite"];

export interface LabInfo {
  dir: string;
  bridgeIp: string;
  registry: string;
  user: string;
  hosts: Record<ServerName, string>;
  links: Record<ServerName, string>;
  netns: Record<ServerName, string>;
  /** Each engine's socket on this machine: a container's /var/run/docker.sock there. */
  sockets: Record<ServerName, string>;
  sshConfig: string;
  sshBin: string;
  clientKey: string;
  knownHosts: string;
  tls: { ca: string; cert: string; key: string };
  images: { restic: string; syncthing: string };
  /** Binaries of the lab's images, for tests that run them on this machine. */
  bin: { restic: string };
}

let info: LabInfo | undefined;
export function lab(): LabInfo {
  info ??= JSON.parse(readFileSync(join(LAB_DIR, "lab.json"), "utf8")) as LabInfo;
  return info;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; never throws for a non-zero exit (callers assert on `code`). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string | Buffer; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** The environment that points the docker CLI at a server's engine over SSH. */
export function dockerEnv(server: ServerName): Record<string, string> {
  const l = lab();
  return {
    DOCKER_HOST: `ssh://${l.user}@${l.hosts[server]}`,
    PATH: `${l.sshBin}:${process.env.PATH ?? ""}`,
  };
}

/** `docker …` on a server's engine, over SSH. */
export function docker(
  server: ServerName,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run("docker", args, { ...opts, env: dockerEnv(server) });
}

/** `docker …` that must succeed; the error names the command and its output. */
export async function dockerOk(
  server: ServerName,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<string> {
  const r = await docker(server, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `docker ${args.join(" ")} on ${server} exited ${r.code}: ${r.stderr}${r.stdout}`,
    );
  }
  return r.stdout;
}

/** `sh -c SCRIPT` in a running container of a server. */
export function exec(server: ServerName, containerName: string, script: string, input?: string) {
  return docker(server, ["exec", ...(input ? ["-i"] : []), containerName, "sh", "-c", script], {
    input,
  });
}

export async function execOk(server: ServerName, containerName: string, script: string) {
  const r = await exec(server, containerName, script);
  if (r.code !== 0) {
    throw new Error(`${server}/${containerName}: sh -c ${script} exited ${r.code}: ${r.stderr}`);
  }
  return r.stdout;
}

/** Runs a command in the root network namespace (ip, iptables); throws on failure. */
export async function host(cmd: string, args: string[]): Promise<string> {
  const r = await new Promise<RunResult>((resolve) =>
    execFile(cmd, args, (e, stdout, stderr) =>
      resolve({ code: e ? 1 : 0, stdout: String(stdout), stderr: String(stderr) }),
    ),
  );
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Config of each lab server: the real Pulumi.<stack>.yaml with the lab's addresses. */
export function labOverrides(): Record<ServerName, Record<string, unknown>> {
  const l = lab();
  return {
    home: {
      host: l.hosts.home,
      sshUser: l.user,
      sshOpts: [],
      peers: ["offsite"],
      // cloud is not part of the lab: home runs ntfy, so alerts stay inside the lab. Nor is
      // cloud's single sign-on (the lab has no Authelia image): admin routes keep basic auth.
      ntfyServer: "home",
      sso: "",
      // No homepage: the lab pulls no image and cannot build homepage's (a Next.js build).
      homepageServer: "",
      syncthingAddress: `tcp://${l.hosts.home}:22000`,
    },
    offsite: {
      host: l.hosts.offsite,
      sshUser: l.user,
      peers: ["home"],
      ntfyServer: "home",
      sso: "",
      homepageServer: "",
      syncthingAddress: `tcp://${l.hosts.offsite}:22000`,
    },
  };
}

/** home and offsite evaluated with each other's outputs until the references settle. */
export async function labFleet(): Promise<Record<ServerName, Evaluation>> {
  const overrides = labOverrides();
  let peers: PeerOutputs = {};
  for (let round = 1; round <= 5; round++) {
    const evaluations = {} as Record<ServerName, Evaluation>;
    const next: PeerOutputs = {};
    for (const s of SERVERS) {
      evaluations[s] = await evaluateReference(s, { overrides: overrides[s], peers });
      next[s] = asPeerOutputs(evaluations[s]);
    }
    if (JSON.stringify(next) === JSON.stringify(peers)) return evaluations;
    peers = next;
  }
  throw new Error("the lab fleet's stack references did not settle in 5 rounds");
}

/** One HTTP request the recorder received. */
export interface Recorded {
  at: number;
  /** Lab server it came from (by source address), or the address. */
  from: string;
  scheme: "http" | "https";
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Stands in for Gatus (HTTP) and ntfy (HTTPS with the lab CA's certificate): records every
 * request and answers 200. Containers reach it through a forwarder named `gatus` with the
 * alias of the ntfy host (see `recorderForwarder`).
 */
export class Recorder {
  readonly requests: Recorded[] = [];
  private servers: Server[] = [];

  async start(): Promise<void> {
    const l = lab();
    const from = (ip: string | undefined) => {
      const v4 = String(ip ?? "").replace(/^::ffff:/, "");
      const hit = (Object.entries(l.hosts) as [string, string][]).find(([, a]) => a === v4);
      return hit ? hit[0] : v4;
    };
    const handler = (scheme: "http" | "https") => (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = String(v);
        this.requests.push({
          at: Date.now(),
          from: from(req.socket.remoteAddress),
          scheme,
          method: req.method ?? "",
          url: req.url ?? "",
          headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    };
    const http = createHttp(handler("http"));
    const https = createHttps(
      { key: readFileSync(l.tls.key), cert: readFileSync(l.tls.cert) },
      handler("https"),
    );
    await Promise.all([
      new Promise<void>((r) => http.listen(RECORDER_PORTS.http, l.bridgeIp, r)),
      new Promise<void>((r) => https.listen(RECORDER_PORTS.https, l.bridgeIp, r)),
    ]);
    this.servers = [http, https];
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  /** Requests since `t` (ms epoch) matching the filter. */
  since(t: number, f: (r: Recorded) => boolean = () => true): Recorded[] {
    return this.requests.filter((r) => r.at >= t && f(r));
  }
}

/** Polls `f` until it returns a truthy value or the deadline passes (then throws `what`). */
export async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Wall-clock timings printed at the end of the suite. */
export const timings: { what: string; ms: number }[] = [];
export async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await f();
  } finally {
    timings.push({ what, ms: Date.now() - t });
    console.log(`[e2e] ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}

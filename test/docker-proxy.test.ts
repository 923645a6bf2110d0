/**
 * The per-job Docker API proxy, run for real: the rendered haproxy.cfg in the real `haproxy`
 * binary, in front of a fake Docker API (a node HTTP server on a unix socket that records every
 * request and answers 204). Allowed requests must arrive unchanged; every other request must be
 * answered 403 by HAProxy and never reach the fake. Odd requests are written on raw sockets, so
 * node does not normalise them.
 *
 * Why each attack matters is in the header of configs/docker-proxy.ts (moby v20.10.24 file:line
 * references); the HAProxy behaviour relied on is cited beside the rules there.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, IncomingHttpHeaders, Server } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { lacks } from "./tools";
import {
  DOCKER_PROXY,
  DockerProxyScope,
  EXEC_START_BODY,
  dockerProxyScope,
  execCreateBody,
  renderDockerProxyConfig,
} from "../configs/docker-proxy";

const ONE: DockerProxyScope = { stop: ["mail"] };
const GROUP: DockerProxyScope = {
  stop: ["mail", "mail-db"],
  exec: {
    container: "mail-db",
    commands: [
      ["pg_dumpall", "-U", "postgres", "-f", "/backup/dump.sql"],
      // every character the config syntax treats specially (§2.2), plus non-ASCII
      ["sh", "-c", `echo 'it''s' "$HOME" # not a comment \\ {} é`],
    ],
  },
};
const V = `/v${DOCKER_PROXY.apiVersion}`;
const EXEC_ID = "0123456789abcdef".repeat(4);

describe("docker proxy config (pure)", () => {
  it("execCreateBody is canonical JSON without privilege fields, ASCII and without single quotes", () => {
    expect(execCreateBody(["pg_dumpall", "-U", "postgres"])).toBe(
      '{"AttachStdout":true,"AttachStderr":true,"Cmd":["pg_dumpall","-U","postgres"]}',
    );
    const odd = ["sh", "-c", "echo 'x' é \n 😀"];
    const body = execCreateBody(odd);
    expect(body).toMatch(/^[\x20-\x26\x28-\x7e]+$/);
    // Docker decodes the same argv (Go's encoding/json reads \uXXXX, surrogate pairs included)
    expect(JSON.parse(body)).toEqual({ AttachStdout: true, AttachStderr: true, Cmd: odd });
    expect(EXEC_START_BODY).toBe('{"Detach":true,"Tty":false}');
  });

  it.each([
    ["one container", ONE],
    ["a group with exec", GROUP],
  ])("reads back the scope it rendered (%s)", (_, scope) => {
    const config = renderDockerProxyConfig(scope);
    expect(renderDockerProxyConfig(scope)).toBe(config);
    expect(dockerProxyScope(config)).toEqual(scope);
  });

  it("sorts and de-duplicates names, so the same scope renders the same config", () => {
    expect(renderDockerProxyConfig({ stop: ["mail-db", "mail", "mail"] })).toBe(
      renderDockerProxyConfig({ stop: ["mail", "mail-db"] }),
    );
  });

  it("refuses a config that is not exactly one of ours", () => {
    const config = renderDockerProxyConfig(GROUP);
    const extra = `  http-request allow if { path_beg ${V}/containers/ }\n`;
    expect(dockerProxyScope(config.replace("  http-request deny deny_status 403\n", extra))).toBe(
      undefined,
    );
    expect(dockerProxyScope(config.replace("{1,3}$'", "{1,3}'"))).toBe(undefined);
    expect(dockerProxyScope(config.replace("-m str '{", "-m sub '{"))).toBe(undefined);
    expect(dockerProxyScope("global\n  log stdout format raw local0\n")).toBe(undefined);
  });

  it.each([
    ["Mail", "expected a container name"],
    ["mail/../other", "expected a container name"],
    ["mail db", "expected a container name"],
    ["mail' }\n  http-request allow", "expected a container name"],
    ["-mail", "expected a container name"],
    ["", "expected a container name"],
    ["m".repeat(64), "expected a container name"],
    ["cafe", "all hex digits"],
  ])("throws on the hostile name %j", (name, message) => {
    expect(() => renderDockerProxyConfig({ stop: [name] })).toThrow(message);
    expect(() =>
      renderDockerProxyConfig({ stop: [], exec: { container: name, commands: [["true"]] } }),
    ).toThrow(message);
  });

  it.each([
    [{ stop: [] }, "the scope allows nothing"],
    [{ stop: [], exec: { container: "mail", commands: [] } }, "expected at least one command"],
    [{ stop: [], exec: { container: "mail", commands: [[]] } }, "expected a non-empty argv"],
    [{ stop: [], exec: { container: "mail", commands: [["x".repeat(5000)]] } }, "over 4096"],
  ])("throws on a scope that cannot be rendered: %j", (scope, message) => {
    expect(() => renderDockerProxyConfig(scope as DockerProxyScope)).toThrow(message);
  });
});

const skip = lacks("haproxy");

describe.skipIf(skip)("docker proxy config (haproxy -c)", () => {
  it.each([
    ["one container", ONE],
    ["a group with exec", GROUP],
  ])("is valid for haproxy (%s)", (_, scope) => {
    const dir = mkdtempSync(join(tmpdir(), "docker-proxy-c-"));
    try {
      const file = join(dir, "haproxy.cfg");
      writeFileSync(file, renderDockerProxyConfig(scope));
      const r = spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8" });
      expect(r.stdout + r.stderr).not.toMatch(/WARNING|ALERT/);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe.skipIf(skip)("docker proxy (haproxy in front of a fake Docker API)", () => {
  let dir: string;
  let fake: Server;
  let haproxy: ChildProcess;
  let port: number;
  let log = "";
  const seen: Seen[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "docker-proxy-"));
    const socket = join(dir, "docker.sock");
    fake = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((ok) => fake.listen(socket, ok));
    port = await freePort();
    // The only edits to the rendered config: where it listens and where the socket is. Each
    // must occur exactly once, so the test runs the config that production gets.
    let config = renderDockerProxyConfig(GROUP);
    config = substituteOnce(config, `bind :${DOCKER_PROXY.port} `, `bind 127.0.0.1:${port} `);
    config = substituteOnce(config, `unix@${DOCKER_PROXY.socket}`, `unix@${socket}`);
    const file = join(dir, "haproxy.cfg");
    writeFileSync(file, config);
    haproxy = spawn("haproxy", ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
    haproxy.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    haproxy.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    await waitForPort(port, () => log);
  }, 20_000);

  afterAll(async () => {
    haproxy?.kill();
    await new Promise<void>((ok) => (fake ? fake.close(() => ok()) : ok()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    seen.length = 0;
  });

  const send = (head: string[], body = "") =>
    raw(port, head.join("\r\n") + "\r\n\r\n" + body).then((r) => ({ ...r, seen: [...seen] }));
  const json = (line: string, body: string, extra: string[] = []) =>
    send(
      [
        line,
        "Host: docker",
        "Content-Type: application/json",
        `Content-Length: ${Buffer.byteLength(body)}`,
        ...extra,
      ],
      body,
    );

  const allowed: [string, () => ReturnType<typeof send>, Omit<Seen, "headers">][] = [
    [
      "stop without a query or a length",
      () => send([`POST ${V}/containers/mail/stop HTTP/1.1`, "Host: docker"]),
      { method: "POST", url: `${V}/containers/mail/stop`, body: "" },
    ],
    [
      "stop with t and Content-Length: 0",
      () =>
        send([`POST ${V}/containers/mail-db/stop?t=30 HTTP/1.1`, "Host: d", "Content-Length: 0"]),
      { method: "POST", url: `${V}/containers/mail-db/stop?t=30`, body: "" },
    ],
    [
      "start",
      () => send([`POST ${V}/containers/mail/start HTTP/1.1`, "Host: docker"]),
      { method: "POST", url: `${V}/containers/mail/start`, body: "" },
    ],
    ...GROUP.exec!.commands.map((cmd): (typeof allowed)[number] => [
      `exec create of ${JSON.stringify(cmd)}`,
      () => json(`POST ${V}/containers/mail-db/exec HTTP/1.1`, execCreateBody(cmd)),
      { method: "POST", url: `${V}/containers/mail-db/exec`, body: execCreateBody(cmd) },
    ]),
    [
      "exec start, detached",
      () => json(`POST ${V}/exec/${EXEC_ID}/start HTTP/1.1`, EXEC_START_BODY),
      { method: "POST", url: `${V}/exec/${EXEC_ID}/start`, body: EXEC_START_BODY },
    ],
    [
      "exec inspect",
      () => send([`GET ${V}/exec/${EXEC_ID}/json HTTP/1.1`, "Host: docker"]),
      { method: "GET", url: `${V}/exec/${EXEC_ID}/json`, body: "" },
    ],
  ];

  it.each(allowed)("forwards %s unchanged", async (_, request, expected) => {
    const r = await request();
    expect(r.status, r.text).toBe(204);
    expect(r.seen.map(({ method, url, body }) => ({ method, url, body }))).toEqual([expected]);
  });

  const cmd = GROUP.exec!.commands[0]!;
  const good = execCreateBody(cmd);
  const hostConfig = '{"Privileged":true,"Binds":["/:/host"]}';
  const stop = (path: string, extra: string[] = []) =>
    send([`POST ${path} HTTP/1.1`, "Host: docker", ...extra]);
  // 403 from our rules, or 400 where HAProxy's own parser refuses the request first
  const attacks: [string, () => ReturnType<typeof send>, (400 | 403)?][] = [
    ["create", () => json(`POST ${V}/containers/create?name=x HTTP/1.1`, '{"Image":"alpine"}')],
    ["kill", () => stop(`${V}/containers/mail/kill`)],
    ["restart", () => stop(`${V}/containers/mail/restart`)],
    ["remove", () => send([`DELETE ${V}/containers/mail HTTP/1.1`, "Host: d"])],
    ["inspect (shows the env)", () => send([`GET ${V}/containers/mail/json HTTP/1.1`, "Host: d"])],
    ["list containers", () => send([`GET ${V}/containers/json HTTP/1.1`, "Host: d"])],
    [
      "exec of another command",
      () => json(`POST ${V}/containers/mail-db/exec HTTP/1.1`, execCreateBody(["sh"])),
    ],
    [
      "exec body with an extra Privileged",
      () =>
        json(
          `POST ${V}/containers/mail-db/exec HTTP/1.1`,
          good.replace(/}$/, ',"Privileged":true}'),
        ),
    ],
    [
      "exec body with a differently cased key",
      () =>
        json(
          `POST ${V}/containers/mail-db/exec HTTP/1.1`,
          good.replace(/}$/, ',"privileged":true}'),
        ),
    ],
    [
      "exec body of the same length with another key case",
      () =>
        json(
          `POST ${V}/containers/mail-db/exec HTTP/1.1`,
          good.replace("AttachStdout", "attachStdout"),
        ),
    ],
    [
      "exec body with trailing bytes",
      () => json(`POST ${V}/containers/mail-db/exec HTTP/1.1`, good + " "),
    ],
    [
      "exec body, allowed bytes but a longer Content-Length",
      () =>
        send(
          [
            `POST ${V}/containers/mail-db/exec HTTP/1.1`,
            "Host: d",
            "Content-Type: application/json",
            `Content-Length: ${good.length + 40}`,
          ],
          good + `,"User":"root","Privileged":true}`.padEnd(40, " "),
        ),
    ],
    ["exec in a container not given", () => json(`POST ${V}/containers/mail/exec HTTP/1.1`, good)],
    [
      "exec with another Content-Type",
      () =>
        send(
          [
            `POST ${V}/containers/mail-db/exec HTTP/1.1`,
            "Host: d",
            "Content-Type: text/plain",
            `Content-Length: ${good.length}`,
          ],
          good,
        ),
    ],
    [
      "exec with two Content-Types",
      () =>
        json(`POST ${V}/containers/mail-db/exec HTTP/1.1`, good, [
          "Content-Type: application/json",
        ]),
    ],
    [
      "exec create, chunked",
      () =>
        send(
          [
            `POST ${V}/containers/mail-db/exec HTTP/1.1`,
            "Host: d",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
          ],
          `${good.length.toString(16)}\r\n${good}\r\n0\r\n\r\n`,
        ),
    ],
    ["stop of a container not in scope", () => stop(`${V}/containers/other/stop`)],
    ["stop of a name that only shares a prefix", () => stop(`${V}/containers/mail-backup/stop`)],
    ["stop of a prefix of a name", () => stop(`${V}/containers/mai/stop`)],
    ["stop with a longer path", () => stop(`${V}/containers/mail/stop/x`)],
    ["stop with another query", () => stop(`${V}/containers/mail/stop?signal=KILL`)],
    ["stop with t and more", () => stop(`${V}/containers/mail/stop?t=1&signal=KILL`)],
    ["stop with an empty query", () => stop(`${V}/containers/mail/stop?`)],
    ["start with a query", () => stop(`${V}/containers/mail/start?checkpoint=x`)],
    [
      "/v1.23 start with a HostConfig body (applied by Docker 20.10)",
      () => json("POST /v1.23/containers/mail/start HTTP/1.1", hostConfig),
    ],
    ["/v1.23 start without a body", () => stop("/v1.23/containers/mail/start")],
    ["unversioned stop", () => stop("/containers/mail/stop")],
    ["%2e%2e segment", () => stop(`${V}/containers/mail/%2e%2e/other/stop`)],
    ["%2e%2e in the name", () => stop(`${V}/containers/%2e%2e/containers/mail/stop`)],
    [".. segment", () => stop(`${V}/containers/mail/../other/stop`)],
    [". segment", () => stop(`${V}/containers/./mail/stop`)],
    ["double slash", () => stop(`${V}//containers/mail/stop`)],
    ["percent-encoded name (%6dail)", () => stop(`${V}/containers/%6dail/stop`)],
    ["encoded slash", () => stop(`${V}/containers/mail%2F..%2Fother/stop`)],
    ["upper-case name", () => stop(`${V}/containers/MAIL/stop`)],
    ["upper-case action", () => stop(`${V}/containers/mail/STOP`)],
    ["upper-case version", () => stop(`/V1.41/containers/mail/stop`)],
    ["absolute-form URL", () => stop(`http://docker${V}/containers/mail/stop`)],
    [
      "start with a chunked HostConfig body",
      () =>
        send(
          [`POST ${V}/containers/mail/start HTTP/1.1`, "Host: d", "Transfer-Encoding: chunked"],
          `${hostConfig.length.toString(16)}\r\n${hostConfig}\r\n0\r\n\r\n`,
        ),
    ],
    [
      "start with an empty chunked body",
      () =>
        send(
          [`POST ${V}/containers/mail/start HTTP/1.1`, "Host: d", "Transfer-Encoding: chunked"],
          "0\r\n\r\n",
        ),
    ],
    [
      "start with a HostConfig body",
      () => json(`POST ${V}/containers/mail/start HTTP/1.1`, hostConfig),
    ],
    [
      "start with two different Content-Lengths (HAProxy answers 400)",
      () =>
        send(
          [
            `POST ${V}/containers/mail/start HTTP/1.1`,
            "Host: d",
            "Content-Length: 0",
            "Content-Length: 7",
          ],
          "{}     ",
        ),
      400,
    ],
    [
      "exec start with an Upgrade header",
      () =>
        json(`POST ${V}/exec/${EXEC_ID}/start HTTP/1.1`, EXEC_START_BODY, [
          "Connection: Upgrade",
          "Upgrade: tcp",
        ]),
    ],
    ["Upgrade alone", () => stop(`${V}/containers/mail/start`, ["Upgrade: tcp"])],
    [
      "Connection: upgrade alone",
      () => stop(`${V}/containers/mail/start`, ["Connection: keep-alive, Upgrade"]),
    ],
    [
      "exec start, attached (Docker would hijack the connection)",
      () => json(`POST ${V}/exec/${EXEC_ID}/start HTTP/1.1`, '{"Detach":false}'),
    ],
    [
      "exec start, attached, same length as the allowed body",
      () => json(`POST ${V}/exec/${EXEC_ID}/start HTTP/1.1`, '{"Detach":false,"Tty":true}'),
    ],
    [
      "exec start with a short id",
      () => json(`POST ${V}/exec/${EXEC_ID.slice(1)}/start HTTP/1.1`, EXEC_START_BODY),
    ],
    [
      "exec start with an upper-case id",
      () => json(`POST ${V}/exec/${EXEC_ID.toUpperCase()}/start HTTP/1.1`, EXEC_START_BODY),
    ],
    ["HEAD of exec inspect", () => send([`HEAD ${V}/exec/${EXEC_ID}/json HTTP/1.1`, "Host: d"])],
    ["lower-case method", () => send([`post ${V}/containers/mail/stop HTTP/1.1`, "Host: d"])],
    ["GET of stop", () => send([`GET ${V}/containers/mail/stop HTTP/1.1`, "Host: d"])],
    [
      "method override header",
      () =>
        send([
          `POST ${V}/containers/mail/stop HTTP/1.1`,
          "Host: d",
          "X-HTTP-Method-Override: DELETE",
        ]),
    ],
    [
      "X-HTTP-Method header",
      () => send([`POST ${V}/containers/mail/stop HTTP/1.1`, "Host: d", "X-HTTP-Method: DELETE"]),
    ],
    ["CONNECT", () => send([`CONNECT docker:2375 HTTP/1.1`, "Host: docker:2375"])],
  ];

  it.each(attacks)("refuses %s, never forwarded", async (_, request, status = 403) => {
    const r = await request();
    expect(r.seen).toEqual([]);
    expect(r.status, r.text).toBe(status);
  });

  it("merges two equal Content-Length: 0 into one (RFC 9110 §8.6), which is still no body", async () => {
    const r = await send([
      `POST ${V}/containers/mail/start HTTP/1.1`,
      "Host: d",
      "Content-Length: 0",
      "Content-Length: 0",
    ]);
    expect(r.status).toBe(204);
    expect(r.seen.map((s) => [s.url, s.headers["content-length"], s.body])).toEqual([
      [`${V}/containers/mail/start`, "0", ""],
    ]);
  });

  it("forwards only the first of two pipelined requests", async () => {
    const r = await raw(
      port,
      `POST ${V}/containers/mail/stop HTTP/1.1\r\nHost: d\r\n\r\n` +
        `POST ${V}/containers/other/stop HTTP/1.1\r\nHost: d\r\n\r\n`,
    );
    expect(r.status).toBe(204);
    expect(seen.map((s) => s.url)).toEqual([`${V}/containers/mail/stop`]);
  });
});

function substituteOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  if (parts.length !== 2) throw new Error(`expected ${JSON.stringify(from)} once in the config`);
  return parts.join(to);
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createNetServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

async function waitForPort(port: number, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((ok) => {
      const c = connect(port, "127.0.0.1", () => (c.destroy(), ok(true)));
      c.once("error", () => ok(false));
    });
    if (up) return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`haproxy did not listen on ${port}:\n${log()}`);
}

/** Writes `request` as-is and reads until the proxy closes; the status of the first response. */
function raw(port: number, request: string): Promise<{ status: number; text: string }> {
  return new Promise((ok, fail) => {
    const c = connect(port, "127.0.0.1");
    let text = "";
    c.setTimeout(15_000, () => c.destroy(new Error(`no answer to ${JSON.stringify(request)}`)));
    c.on("data", (d: Buffer) => (text += d.toString("latin1")));
    c.on("error", fail);
    c.on("close", () =>
      ok({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text }),
    );
    c.write(request);
  });
}

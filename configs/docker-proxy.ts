/**
 * One backup job's own view of the Docker API: an HAProxy in front of the Docker socket that
 * forwards only the requests the job needs (stop/start of the service's containers, a fixed
 * list of exec commands in one container) and answers every other request 403 itself.
 *
 * Why not Tecnativa's docker-socket-proxy: its ALLOW_START/ALLOW_STOP open start and stop for
 * every container, case-insensitively, after url_dec, unanchored, with any `/vX.Y` prefix and
 * any body (Tecnativa/docker-socket-proxy v0.4.1 haproxy.cfg:51-53), so it cannot be scoped
 * to one service's containers.
 *
 * Facts about the Docker engine this allow-list is shaped by (moby/moby v20.10.24):
 * - A body on start is decoded as a HostConfig and replaces the container's (Privileged, Binds,
 *   …) when the API version is below 1.24: api/server/router/container/container_routes.go:178-217
 *   (postContainersStart; the version check is L189-191, the decode L194-202), applied by
 *   daemon/container.go setHostConfig. Hence: one pinned version in the path, no body on start.
 * - Every route is also registered without a version prefix (api/server/server.go:177-178), and
 *   gorilla/mux matches the percent-decoded, cleaned path (vendor/github.com/gorilla/mux/mux.go
 *   ServeHTTP): hence exact raw-URL matching, never decoding on our side.
 * - A name that is not found falls back to a unique ID prefix (daemon/container.go:38-63), so a
 *   hex-only name could reach another container: such names are refused here.
 * - Exec start without `"Detach":true` hijacks the connection into a raw stream
 *   (api/server/router/container/exec.go:101): only the detached body is allowed.
 * - Exec inspect (`/exec/<id>/json`) shows the exec's argv, user and exit code, not the
 *   container's env; container inspect (`/containers/<name>/json`) would show the env, and is
 *   not allowed.
 *
 * HAProxy references are doc/configuration.txt of haproxy/haproxy v3.2.0 (the same keywords
 * exist in v2.6.0, which Debian 12 ships and the tests run).
 */

/** Where the job's proxy listens and what it forwards to. */
/**
 * The Docker name of a backup job's proxy container, and of the network only it and the job
 * share. Only the captures that act through Docker (`stop`, `hook`) have one.
 */
export function backupProxyName(service: string): string {
  return `${service}-backup-docker`;
}

/** Whether a capture acts through the Docker API, i.e. its job gets a proxy. */
export function usesDockerApi(capture: string): boolean {
  return capture === "stop" || capture === "hook";
}

export const DOCKER_PROXY = {
  port: 2375,
  apiVersion: "1.41",
  configPath: "/usr/local/etc/haproxy/haproxy.cfg",
  socket: "/var/run/docker.sock",
} as const;

/**
 * The official image the proxy runs: docker-library/haproxy@ec437dd2 versions.json "3.2" →
 * 3.2.21, 3.2/alpine/Dockerfile:33 `ENV HAPROXY_VERSION 3.2.21`; tags `<version>-alpine` from
 * generate-stackbrew-library.sh. Its CMD reads DOCKER_PROXY.configPath (Dockerfile:108).
 * The image switches to `USER haproxy` (uid 99, 3.2/alpine/Dockerfile:19-31 and :103; non-root
 * since 2.4), which cannot open the root:docker 0660 socket: the container must run as root or
 * with the socket's group added (`group_add: [<docker gid>]`).
 */
export const HAPROXY_IMAGE = "haproxy:3.2.21-alpine";

export interface DockerProxyScope {
  /** Containers (exact Docker names) the job may stop and start. */
  stop: string[];
  /** The container the job may exec in, and the exact commands (argv arrays) it may run. */
  exec?: { container: string; commands: string[][] };
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HEX_RE = /^[0-9a-f]+$/;
/** Small enough to sit whole in HAProxy's 16 kB request buffer with the headers. */
const MAX_BODY = 4096;

/**
 * JSON.stringify, then every character outside printable ASCII and the single quote written as
 * `\uXXXX`: the body is then pure ASCII without `'`, so it can be strongly quoted in the config
 * verbatim ("Inside single quotes, nothing is interpreted", configuration.txt §2.2, v3.2.0
 * L695, v2.6.0 L530), and Docker's JSON decoder reads the same argv back.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]|'/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The exact JSON body the job sends to create an exec of `cmd` (canonical: same bytes the proxy allows). */
export function execCreateBody(cmd: string[]): string {
  return asciiJson({ AttachStdout: true, AttachStderr: true, Cmd: cmd });
}

/** The exact body of an exec start: detached, so Docker does not hijack the connection. */
export const EXEC_START_BODY = '{"Detach":true,"Tty":false}';

function checkName(name: unknown, where: string): string {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new Error(
      `docker proxy: ${where}: expected a container name matching ${NAME_RE}, got ${JSON.stringify(name)}`,
    );
  }
  if (HEX_RE.test(name)) {
    throw new Error(
      `docker proxy: ${where}: ${JSON.stringify(name)} is all hex digits, so Docker would also read it as an ID prefix of another container`,
    );
  }
  return name;
}

/** The scope with every input checked, names sorted and duplicates dropped. */
function normalise(scope: DockerProxyScope): DockerProxyScope {
  if (!Array.isArray(scope.stop)) throw new Error("docker proxy: stop: expected a list of names");
  const stop = [...new Set(scope.stop.map((n, i) => checkName(n, `stop[${i}]`)))].sort();
  if (!scope.exec) {
    if (stop.length === 0) throw new Error("docker proxy: the scope allows nothing");
    return { stop };
  }
  const container = checkName(scope.exec.container, "exec.container");
  if (!Array.isArray(scope.exec.commands) || scope.exec.commands.length === 0) {
    throw new Error("docker proxy: exec.commands: expected at least one command");
  }
  const seen = new Set<string>();
  const commands: string[][] = [];
  scope.exec.commands.forEach((cmd, i) => {
    if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((a) => typeof a === "string")) {
      throw new Error(
        `docker proxy: exec.commands[${i}]: expected a non-empty argv of strings, got ${JSON.stringify(cmd)}`,
      );
    }
    const body = execCreateBody(cmd);
    if (body.length > MAX_BODY) {
      throw new Error(
        `docker proxy: exec.commands[${i}]: the exec body is ${body.length} bytes, over ${MAX_BODY}`,
      );
    }
    if (!seen.has(body)) commands.push([...cmd]);
    seen.add(body);
  });
  return { stop, exec: { container, commands } };
}

const V = `/v${DOCKER_PROXY.apiVersion}`;
const V_RE = V.replace(/\./g, "\\.");
const HEADER = "# homelab docker-proxy (configs/docker-proxy.ts): one job's Docker API allow-list";

/** The `http-request allow` line of one body-carrying request: exact length, exact bytes. */
const bodyRule = (url: string, body: string) =>
  `  http-request allow if is_post no_te json_type json_single { ${url} }` +
  ` { req.body_size eq ${body.length} } { req.body_len eq ${body.length} }` +
  ` { req.body -m str '${body}' }`;

/**
 * haproxy.cfg for one job's proxy. Deterministic. Every allowed request is one `http-request
 * allow` line matching the raw URL exactly (`url` is the URI "as presented", configuration.txt
 * v3.2.0 L25927; `-m str` is an exact match, §7.1.3 L19518; regexes strongly quoted and
 * anchored, §7.1.4 L19571); anything else reaches the final `deny` (403, L14783).
 */
export function renderDockerProxyConfig(scope: DockerProxyScope): string {
  const s = normalise(scope);
  const allow: string[] = [];
  for (const name of s.stop) {
    const c = `${V}/containers/${name}`;
    allow.push(
      `  http-request allow if is_post no_te no_length no_data { url -m str ${c}/start ${c}/stop }`,
      `  http-request allow if is_post no_te no_length no_data { url -m reg '^${V_RE}/containers/${name}/stop\\?t=[0-9]{1,3}$' }`,
    );
  }
  if (s.exec) {
    for (const cmd of s.exec.commands) {
      const url = `url -m str ${V}/containers/${s.exec.container}/exec`;
      allow.push(bodyRule(url, execCreateBody(cmd)));
    }
    allow.push(
      bodyRule(`url -m reg '^${V_RE}/exec/[0-9a-f]{64}/start$'`, EXEC_START_BODY),
      `  http-request allow if is_get no_te no_length no_data { url -m reg '^${V_RE}/exec/[0-9a-f]{64}/json$' }`,
    );
  }
  return [
    HEADER,
    "global",
    "  log stdout format raw local0",
    "",
    "defaults",
    "  mode http",
    "  log global",
    "  option httplog",
    // One request per connection: nothing is kept open to be reused or tunnelled (L10099).
    "  option httpclose",
    // Rules see the whole body, not its first packet (L9681).
    "  option http-buffer-request",
    "  timeout connect 5s",
    "  timeout client 30s",
    "  timeout http-request 10s",
    // A stop waits up to t (at most 999) seconds.
    "  timeout server 20m",
    "",
    "frontend docker-api",
    // HTTP/1 only: no h2 prior-knowledge connections (`proto`, L16871).
    `  bind :${DOCKER_PROXY.port} proto h1`,
    // The `method` ACL is documented as case-insensitive (L25394); `-m str` asks for exact bytes.
    "  acl is_post method -m str POST",
    "  acl is_get method -m str GET",
    "  acl no_te req.hdr_cnt(transfer-encoding) eq 0",
    // Two declarations of one name are OR-ed (§7.1, L19189-19192): the body checks are two names, AND-ed.
    "  acl no_length req.body_size eq 0",
    "  acl no_data req.body_len eq 0",
    "  acl json_type req.hdr(content-type) -m str application/json",
    "  acl json_single req.hdr_cnt(content-type) eq 1",
    // Refused whatever the path: an upgraded (hijacked) stream would be tunnelled raw, and a
    // method override or repeated length could make Docker see another request than we did.
    "  http-request deny deny_status 403 if { req.hdr_cnt(upgrade) gt 0 }",
    "  http-request deny deny_status 403 if { req.hdr(connection) -m sub -i upgrade }",
    "  http-request deny deny_status 403 if { req.hdr_cnt(x-http-method-override) gt 0 }",
    "  http-request deny deny_status 403 if { req.hdr_cnt(x-http-method) gt 0 }",
    "  http-request deny deny_status 403 if { req.hdr_cnt(x-method-override) gt 0 }",
    "  http-request deny deny_status 403 if { req.hdr_cnt(content-length) gt 1 }",
    ...allow,
    "  http-request deny deny_status 403",
    "  default_backend docker",
    "",
    "backend docker",
    // `unix@<path>`: the address is a UNIX socket (configuration.txt v3.2.0 L1522).
    `  server docker unix@${DOCKER_PROXY.socket}`,
    "",
  ].join("\n");
}

/**
 * The scope a rendered config allows, read back from the config (for a guardrail); undefined if
 * it is not exactly what renderDockerProxyConfig makes of that scope.
 */
export function dockerProxyScope(config: string): DockerProxyScope | undefined {
  if (!config.startsWith(HEADER + "\n")) return undefined;
  const stop: string[] = [];
  let container: string | undefined;
  const commands: string[][] = [];
  const startRe = new RegExp(
    `^  http-request allow if is_post no_te no_length no_data \\{ url -m str ${V_RE}/containers/([a-z0-9-]+)/start `,
  );
  const execRe = new RegExp(
    `^  http-request allow if is_post no_te json_type json_single \\{ url -m str ${V_RE}/containers/([a-z0-9-]+)/exec \\} .* \\{ req\\.body -m str '([^']*)' \\}$`,
  );
  for (const line of config.split("\n")) {
    const s = startRe.exec(line);
    if (s) stop.push(s[1]!);
    const e = execRe.exec(line);
    if (!e) continue;
    if (container !== undefined && container !== e[1]) return undefined;
    container = e[1]!;
    try {
      const cmd: unknown = (JSON.parse(e[2]!) as { Cmd?: unknown }).Cmd;
      if (!Array.isArray(cmd)) return undefined;
      commands.push(cmd as string[]);
    } catch {
      return undefined;
    }
  }
  const scope: DockerProxyScope =
    container === undefined ? { stop } : { stop, exec: { container, commands } };
  try {
    return renderDockerProxyConfig(scope) === config ? scope : undefined;
  } catch {
    return undefined;
  }
}

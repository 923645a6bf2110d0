/**
 * The server bootstrap script (configs/bootstrap.sh, kept as a real file so shellcheck and a
 * human can read it) with its parameters written in, the command that runs it over SSH, its
 * hash (the Bootstrap's trigger) and the parser of its result line.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { shellQuote } from "./shell";

export { shellQuote };

/** Where the script lives; read once per render. */
export const BOOTSTRAP_SCRIPT_PATH = join(__dirname, "bootstrap.sh");

/** The line of bootstrap.sh that the parameters replace. */
const PARAMS_MARKER = "# @params";

/** Parameters of one host's bootstrap. */
export interface BootstrapParams {
  /** User the Docker provider logs in as (created if missing, put in group docker). */
  deployUser: string;
  /** Host directory for homelab data, owned by the deploy user. @default "/srv/homelab" */
  dataRoot?: string;
  /** Keys a newly created deploy user accepts. @default the bootstrap user's authorized_keys */
  authorizedKeysFile?: string;
}

/** Default host directory for homelab data (restores land in `<dataRoot>/restore`). */
export const DEFAULT_DATA_ROOT = "/srv/homelab";

const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const PATH_RE = /^\/[A-Za-z0-9._/-]*$/;

/** bootstrap.sh with `params` written in at its marker. Throws on a value the script rejects. */
export function renderBootstrapScript(
  params: BootstrapParams,
  template = readFileSync(BOOTSTRAP_SCRIPT_PATH, "utf8"),
): string {
  const dataRoot = params.dataRoot ?? DEFAULT_DATA_ROOT;
  if (!USER_RE.test(params.deployUser)) {
    throw new Error(
      `bootstrap: deployUser: expected a user name like "deploy", got ${JSON.stringify(params.deployUser)}`,
    );
  }
  for (const [key, path] of [
    ["dataRoot", dataRoot],
    ["authorizedKeysFile", params.authorizedKeysFile],
  ] as const) {
    if (path !== undefined && (!PATH_RE.test(path) || path.split("/").includes(".."))) {
      throw new Error(
        `bootstrap: ${key}: expected an absolute path of letters, digits, ".", "_", "-" and "/" (no ".."), got ${JSON.stringify(path)}`,
      );
    }
  }
  const lines = template.split("\n");
  const at = lines.indexOf(PARAMS_MARKER);
  if (at < 0)
    throw new Error(`bootstrap: ${BOOTSTRAP_SCRIPT_PATH} lost its "${PARAMS_MARKER}" line`);
  const assignments = [
    "# Parameters, written by configs/bootstrap.ts:",
    `DEPLOY_USER=${shellQuote(params.deployUser)}`,
    `DATA_ROOT=${shellQuote(dataRoot)}`,
    ...(params.authorizedKeysFile
      ? [`AUTHORIZED_KEYS_FILE=${shellQuote(params.authorizedKeysFile)}`]
      : []),
  ];
  return [...lines.slice(0, at), ...assignments, ...lines.slice(at + 1)].join("\n");
}

/** The remote command that runs the script from stdin, as root. */
export function bootstrapCommand(sshUser: string): string {
  // -n: fail instead of waiting for a password nobody can type.
  return sshUser === "root" ? "sh -s" : "sudo -n sh -s";
}

/** sha256 of the rendered script: the Bootstrap re-runs exactly when it changes. */
export function scriptHash(script: string): string {
  return createHash("sha256").update(script).digest("hex");
}

/** Whether a run changed the host, from its last `changed=` line; undefined if there is none. */
export function parseChanged(stdout: string | undefined): boolean | undefined {
  const lines = (stdout ?? "").trim().split("\n");
  const last = [...lines].reverse().find((l) => /^changed=[01]$/.test(l.trim()));
  return last === undefined ? undefined : last.trim() === "changed=1";
}

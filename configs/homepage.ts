/**
 * The fleet's homepage (gethomepage/homepage v1.12.3): the catalogue each server publishes, and
 * the config files of the one homepage that lists every server's catalogue. Pure functions.
 *
 * Homepage reads each file as text, pastes `HOMEPAGE_VAR_*` / `HOMEPAGE_FILE_*` values over
 * `{{NAME}}` in that text, then parses it with js-yaml (src/utils/config/config.js:62-78,
 * service-helpers.js:53-59). A `{{…}}` in a description would be such a reference, and a
 * `HOMEPAGE_FILE_*` one reads a file of the container into the page. So every string is written
 * double-quoted with `{` escaped as `\x7B`: the text never holds `{{`, the parsed value is the
 * description as written.
 */
import { stringify } from "yaml";
import { imageRepository } from "../components/docker";
import type { ResolvedService } from "../lib/model";
import { serviceEndpoints } from "./gatus";

/** Port homepage listens on (Dockerfile `ENV PORT=3000` at github:gethomepage/homepage v1.12.3). */
export const HOMEPAGE_PORT = 3000;
/** Config directory of the image: docker-entrypoint.sh links /config there; CONF_DIR is cwd/config. */
export const HOMEPAGE_CONFIG_DIR = "/app/config";

/** One thing on a server a person opens (or that runs there): published as the output `catalogue`. */
export interface CatalogueEntry {
  /** Service name, or the standard component's (traefik, gatus, syncthing, ntfy). */
  name: string;
  /** Server (stack) it runs on. */
  server: string;
  description: string;
  /** What the page links to; absent for a service without a web route (a database). */
  url?: string;
  /** A dashboard-icons name (`vaultwarden.png`), derived from the image. */
  icon: string;
  /** The URL the page's status check requests: the one Gatus watches. */
  monitor?: string;
  kind: "service" | "component";
}

/** A server's section of the page. */
export interface CatalogueGroup {
  server: string;
  entries: CatalogueEntry[];
}

/** Last path elements that name a role, not the product (`vaultwarden/server`). */
const GENERIC_IMAGE_NAMES = new Set(["server", "app", "web", "core", "backend", "api"]);

/**
 * The dashboard-icons name of an image: its repository's last element (the one before it when
 * that is generic like `server`), without a `-server` suffix, `.png`. Homepage resolves a bare
 * `<name>.png` to github:homarr-labs/dashboard-icons `png/<name>.png` (src/components/
 * resolvedicon.jsx, the dashboard-icons fallback; docs/configs/services.md "Icons").
 */
export function iconOf(image: string): string {
  const path = imageRepository(image).toLowerCase().split("/");
  let name = path.pop() ?? "";
  if (GENERIC_IMAGE_NAMES.has(name) && path.length > 0 && !path[path.length - 1]!.includes("."))
    name = path.pop()!;
  return `${name.replace(/-(server|app)$/, "")}.png`;
}

/** A standard component's web UI, as the server describes it. */
export interface ComponentUi {
  name: string;
  description: string;
  url: string;
  monitor: string;
  image: string;
}

/** This server's catalogue: its declared services, then the standard components with a UI. */
export function serverCatalogue(
  server: string,
  domain: string,
  services: ResolvedService[],
  components: ComponentUi[],
): CatalogueEntry[] {
  const own = services.map((s): CatalogueEntry => {
    const route = s.http && serviceEndpoints({ ...s, ports: [] }, domain)[0];
    return {
      name: s.name,
      server,
      description: s.description,
      ...(s.http ? { url: `https://${s.http.subdomain}.${domain}` } : {}),
      icon: iconOf(s.image),
      ...(route ? { monitor: route.url } : {}),
      kind: "service",
    };
  });
  const uis = components.map((c): CatalogueEntry => ({
    name: c.name,
    server,
    description: c.description,
    url: c.url,
    icon: iconOf(c.image),
    monitor: c.monitor,
    kind: "component",
  }));
  return [...own, ...uis];
}

/** Names homepage keys a group or service by (and the page's status API looks up). */
const ENTRY_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * What is wrong with a catalogue entry read from a peer's output ("" when nothing): it must have
 * the shape above, https URLs and names that are safe YAML keys.
 */
export function catalogueEntryProblem(v: unknown): string {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not an object";
  const e = v as Record<string, unknown>;
  for (const k of ["name", "server", "description", "icon"] as const)
    if (typeof e[k] !== "string") return `${k} is not a string`;
  if (!ENTRY_NAME.test(e.name as string)) return `name ${JSON.stringify(e.name)} is not [a-z0-9-]`;
  if (!ENTRY_NAME.test(e.server as string))
    return `server ${JSON.stringify(e.server)} is not [a-z0-9-]`;
  for (const k of ["url", "monitor"] as const)
    if (e[k] !== undefined && !(typeof e[k] === "string" && /^https:\/\/[^\s]+$/.test(e[k])))
      return `${k} is not an https URL`;
  if (e.kind !== "service" && e.kind !== "component") return `kind is not service or component`;
  return "";
}

/**
 * YAML as homepage must read it: every string double-quoted, `{` escaped (see the file's
 * header), keys plain (they are [a-z0-9-] names or fixed field names, never holding `{`).
 */
export function homepageYaml(value: unknown): string {
  const text = stringify(value, {
    defaultStringType: "QUOTE_DOUBLE",
    defaultKeyType: "PLAIN",
    lineWidth: 0,
  });
  return text.replace(/\{/g, "\\x7B");
}

/** services.yaml: one group per server, in the order given; a service per entry. */
export function renderServices(groups: CatalogueGroup[]): string {
  return homepageYaml(
    groups.map((g) => ({
      [g.server]: g.entries.map((e) => ({
        [e.name]: {
          ...(e.url ? { href: e.url } : {}),
          description: e.description,
          icon: e.icon,
          ...(e.monitor ? { siteMonitor: e.monitor } : {}),
        },
      })),
    })),
  );
}

/** settings.yaml: title, the servers' order and layout, no calls home, no indexing. */
export function renderSettings(groups: CatalogueGroup[]): string {
  return homepageYaml({
    title: "homelab",
    description: `Every service of the fleet: ${groups.map((g) => g.server).join(", ")}`,
    statusStyle: "basic",
    disableUpdateCheck: true,
    disableIndexing: true,
    layout: groups.map((g) => ({ [g.server]: { style: "row", columns: 4 } })),
  });
}

/** widgets.yaml: one greeting line that counts what the page lists. */
export function renderWidgets(groups: CatalogueGroup[]): string {
  const n = groups.reduce((sum, g) => sum + g.entries.length, 0);
  const servers = `${groups.length} server${groups.length === 1 ? "" : "s"}`;
  return homepageYaml([
    { greeting: { text_size: "xl", text: `homelab: ${servers}, ${n} entries` } },
  ]);
}

/**
 * Every file homepage reads from its config directory, so that it copies none of its samples
 * (checkAndCopyConfig copies src/skeleton/<file> for each missing one, config.js:15-41: the
 * sample bookmarks.yaml would put GitHub, Reddit and YouTube on the page). The files homepage
 * only needs to exist hold a comment: the Docker provider refuses an empty upload.
 */
export function homepageFiles(groups: CatalogueGroup[]): Record<string, string> {
  const none = (what: string) => `# generated by homelab: ${what}\n`;
  return {
    "services.yaml": renderServices(groups),
    "settings.yaml": renderSettings(groups),
    "widgets.yaml": renderWidgets(groups),
    "bookmarks.yaml": "[]\n",
    "docker.yaml": none("no Docker discovery, the page lists the catalogue"),
    "kubernetes.yaml": none("no Kubernetes"),
    "proxmox.yaml": none("no Proxmox"),
    "custom.css": "/* generated by homelab: no custom CSS */\n",
    "custom.js": "// generated by homelab: no custom JavaScript\n",
  };
}

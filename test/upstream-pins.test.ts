/**
 * Every pinned image of the standard components says where its tag comes from, beside the pin:
 * `// source: github:<owner>/<repo> tag <git tag>` (confirmed from the repository's git tags), or
 * `// unconfirmed: <why>` when the release could not be confirmed.
 *
 * UPSTREAM_TAGS are the git tags read from each repository (`git tag` on the stored snapshot
 * brought by the fetch tool); only the ones near the pins are vendored.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IMAGES } from "../components/defaults";
import { ROOT } from "./helpers";

const UPSTREAM_TAGS: Record<string, string[]> = {
  // git tag | grep ^v3.5: v3.5.0 .. v3.5.6
  "traefik/traefik": ["v3.5.0", "v3.5.1", "v3.5.2", "v3.5.3", "v3.5.4", "v3.5.5", "v3.5.6"],
  // Every tag: no v0.4.2 (newest v0.4.1, 2025-09-05). .github/workflows/ci.yml at v0.4.1 uses
  // crazy-max/ghaction-docker-meta@v4, whose default tag for a pushed git tag is the tag itself.
  "Tecnativa/docker-socket-proxy": [
    "v0.1.0",
    "v0.1.1",
    "v0.1.2",
    "v0.2.0",
    "v0.3.0",
    "v0.4.0",
    "v0.4.1",
  ],
  "TwiN/gatus": ["v5.25.0", "v5.25.1", "v5.25.2"],
  "syncthing/syncthing": ["v1.29.5"],
  // Newest tags: no v1.22.x (v1.21.0, 2026-08-18, is the newest). build/goreleaser/stable.yaml
  // at v1.21.0 tags nickfedor/watchtower with "{{ .Version }}" (the tag without its "v").
  "nicholas-fedor/watchtower": ["v1.19.0", "v1.20.0", "v1.20.1", "v1.20.2", "v1.20.3", "v1.21.0"],
  "restic/restic": ["v0.18.0", "v0.18.1"],
  // git tag | grep ^v4.39 | sort -V | tail -4
  "authelia/authelia": ["v4.39.17", "v4.39.18", "v4.39.19", "v4.39.20"],
};

/** The repository whose git tags each pin must be (ntfy: unconfirmed, see below). */
const REPO_OF: Record<string, string> = {
  traefik: "traefik/traefik",
  gatus: "TwiN/gatus",
  syncthing: "syncthing/syncthing",
  restic: "restic/restic",
  authelia: "authelia/authelia",
};

const SOURCE_RE = /\/\/ source: github:([\w.-]+\/[\w.-]+) tag (\S+)\s*$/;
const UNCONFIRMED_RE = /\/\/ unconfirmed: \S/;

/** The source line of each image key in defaults.ts's IMAGES block. */
function pinLines(): Record<string, string> {
  const text = readFileSync(join(ROOT, "components/defaults.ts"), "utf8");
  const block = /export const IMAGES = \{\n([\s\S]*?)\n\} as const;/.exec(text)![1]!;
  const out: Record<string, string> = {};
  for (const line of block.split("\n")) {
    const m = /^\s*(\w+): "([^"]+)",/.exec(line);
    if (m) out[m[1]!] = line;
  }
  return out;
}

describe("pinned images and their upstream releases", () => {
  const lines = pinLines();

  it("every image in IMAGES is found in the source text", () => {
    expect(Object.keys(lines).sort()).toEqual(Object.keys(IMAGES).sort());
  });

  for (const [key, image] of Object.entries(IMAGES)) {
    it(`${key} (${image}) names its source beside the pin`, () => {
      const line = lines[key] ?? "";
      expect(SOURCE_RE.test(line) || UNCONFIRMED_RE.test(line), line).toBe(true);
    });

    it(`${key} (${image}) is a release tag of its repository`, () => {
      const imageTag = image.slice(image.lastIndexOf(":") + 1);
      const repo = REPO_OF[key];
      if (!repo) return; // unconfirmed, said beside the pin
      // The image tag is a git tag, or a git tag without its leading "v".
      expect(UPSTREAM_TAGS[repo]).toContain(imageTag.startsWith("v") ? imageTag : `v${imageTag}`);
      const m = SOURCE_RE.exec(lines[key] ?? "");
      expect(m?.[1], lines[key]).toBe(repo);
      expect([m?.[2], m?.[2]?.replace(/^v/, "")]).toContain(imageTag);
    });
  }

  // The stored snapshots of these repositories end before their pins could have been tagged:
  // a missing tag there is no proof, so the pins are kept and marked, not downgraded.
  it("only ntfy, the socket proxy and Watchtower are unconfirmed (stale snapshots)", () => {
    const unconfirmed = Object.keys(lines).filter((k) => !SOURCE_RE.test(lines[k]!));
    expect(unconfirmed.sort()).toEqual(["ntfy", "socketProxy", "watchtower"]);
  });
});

describe("every image a stack file declares says where its tag comes from", () => {
  const files = ["cloud", "home", "offsite"].map((s) => `stacks/${s}.ts`);
  it.each(files)("%s", (file) => {
    const lines = readFileSync(join(ROOT, file), "utf8")
      .split("\n")
      .filter((l) => /\bimage: "/.test(l));
    for (const line of lines)
      expect(SOURCE_RE.test(line) || UNCONFIRMED_RE.test(line), `${file}: ${line.trim()}`).toBe(
        true,
      );
  });
});

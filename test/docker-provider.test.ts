/**
 * What the Docker provider does with the containers the program registers, checked against the
 * provider's own source. @pulumi/docker 5.2 bridges kreuzwerker/terraform-provider-docker at the
 * commit its `upstream` submodule pins: github.com/pulumi/pulumi-docker `upstream` →
 * 5074970c71ce6cc393c74942d5d628943834beb9 (= tag v4.5.0 of kreuzwerker/terraform-provider-docker;
 * the same commit at pulumi-docker v5.1.0 and at its newest commit, provider/go.mod `replace
 * … => ../upstream`). Line numbers below are of that commit.
 */
import { describe, expect, it } from "vitest";
import {
  Evaluation,
  PeerOutputs,
  RegisteredResource,
  Secret,
  asPeerOutputs,
} from "../cli/evaluate";
import { stopGraceSeconds } from "../components/docker";
import { STACK_NAMES, T, evaluateReference, ofType, referenceFleet, reveal } from "./helpers";

/** Every upload of a container, revealed (the list, an item or a field may be a Secret). */
function uploadsOf(c: RegisteredResource): Record<string, unknown>[] {
  const raw = c.inputs.uploads instanceof Secret ? c.inputs.uploads.value : c.inputs.uploads;
  return ((raw ?? []) as unknown[]).map((u) => reveal(u) as Record<string, unknown>);
}

/**
 * The provider's create refuses an upload with none of content, content_base64, source set:
 * kreuzwerker/terraform-provider-docker internal/provider/resource_docker_container_funcs.go
 * lines 513-523 (resourceDockerContainerCreate) count the non-empty ones and return
 * `error with upload content: one of 'content', 'content_base64', or 'source' must be set`;
 * more than one is `only one of … can be set` (lines 524-526). "" counts as unset.
 */
function uploadError(u: Record<string, unknown>): string | undefined {
  const set = [u.content, u.contentBase64, u.source].filter(
    (v) => v !== undefined && v !== null && v !== "",
  ).length;
  if (set === 0)
    return "error with upload content: one of 'content', 'content_base64', or 'source' must be set";
  if (set > 1)
    return "error with upload content: only one of 'content', 'content_base64', or 'source' can be set";
  return undefined;
}

function uploadErrors(e: Evaluation): string[] {
  return ofType(e, T.container).flatMap((c) =>
    uploadsOf(c).flatMap((u) => {
      const err = uploadError(u);
      return err ? [`${e.stack}: ${String(c.inputs.name)} ${String(u.file)}: ${err}`] : [];
    }),
  );
}

describe("uploads the provider accepts (resource_docker_container_funcs.go:505-526)", () => {
  it.each(STACK_NAMES)(
    "%s, first deployment (no peer has outputs): no upload without content",
    async (stack) => {
      const e = await evaluateReference(stack);
      expect(ofType(e, T.container).length).toBeGreaterThan(5);
      expect(uploadErrors(e)).toEqual([]);
    },
  );

  it.each(STACK_NAMES)("%s, every peer pending: no upload without content", async (stack) => {
    const others = STACK_NAMES.filter((s) => s !== stack);
    const e = await evaluateReference(stack, { overrides: { pendingPeers: others } });
    expect(uploadErrors(e)).toEqual([]);
  });

  it("the converged fleet (peers with outputs): no upload without content", async () => {
    const { evaluations } = await referenceFleet();
    for (const stack of STACK_NAMES) expect(uploadErrors(evaluations[stack]!)).toEqual([]);
  });

  it.each(["home", "offsite"])(
    "%s, the ntfy server was deployed before it published a token for it: no ntfy-token upload",
    async (stack) => {
      const { evaluations } = await referenceFleet();
      const peers: PeerOutputs = {};
      for (const s of STACK_NAMES.filter((x) => x !== stack)) {
        peers[s] = asPeerOutputs(evaluations[s]!);
      }
      const cloud = peers.cloud!;
      const tokens = { ...(cloud.outputs.ntfyPublishTokens as Record<string, string>) };
      delete tokens[stack];
      peers.cloud = { ...cloud, outputs: { ...cloud.outputs, ntfyPublishTokens: tokens } };
      const e = await evaluateReference(stack, { peers });
      expect(uploadErrors(e)).toEqual([]);
      const sidecars = ofType(e, T.container).filter((c) =>
        /-backup$|^backup-replicas$/.test(String(c.inputs.name)),
      );
      expect(sidecars.length).toBeGreaterThan(0);
      for (const c of sidecars) {
        const files = uploadsOf(c).map((u) => u.file);
        expect(files, String(c.inputs.name)).toContain("/run/homelab/heartbeat-token");
        expect(files, String(c.inputs.name)).not.toContain("/run/homelab/ntfy-token");
      }
    },
  );

  it("with outputs, every backup sidecar gets the publish token, and only as a secret", async () => {
    const { evaluations } = await referenceFleet();
    const tokens = reveal(evaluations.cloud!.outputs.ntfyPublishTokens) as Record<string, string>;
    for (const stack of STACK_NAMES) {
      const e = evaluations[stack]!;
      const sidecars = ofType(e, T.container).filter((c) =>
        /-backup$|^backup-replicas$/.test(String(c.inputs.name)),
      );
      expect(sidecars.length).toBeGreaterThan(0);
      for (const c of sidecars) {
        const at = `${stack}: ${String(c.inputs.name)}`;
        const token = uploadsOf(c).find((u) => u.file === "/run/homelab/ntfy-token");
        expect(token?.content, at).toBe(tokens[stack]);
        // The list is decided on the secret's value, so the whole list is a secret.
        expect(c.inputs.uploads, at).toBeInstanceOf(Secret);
      }
    }
  });
});

/**
 * Go's time.ParseDuration, for the forms the program may write: [-+] then one or more
 * <decimal><unit> with units ns, us (µs, μs), ms, s, m, h; "0" alone. Nanoseconds as a BigInt.
 * Ported from golang/go src/time/format.go (ParseDuration); a fraction is truncated to the
 * nanosecond as Go does.
 */
function goParseDuration(s: string): bigint {
  const units: Record<string, bigint> = {
    ns: 1n,
    us: 1000n,
    µs: 1000n,
    μs: 1000n,
    ms: 1_000_000n,
    s: 1_000_000_000n,
    m: 60_000_000_000n,
    h: 3_600_000_000_000n,
  };
  let rest = s;
  let neg = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    neg = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "0") return 0n;
  if (rest === "") throw new Error(`time: invalid duration "${s}"`);
  let total = 0n;
  while (rest !== "") {
    const m = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!m || (m[1] === "" && (m[2] ?? "") === ""))
      throw new Error(`time: invalid duration "${s}"`);
    const unit = units[m[3]!]!;
    const whole = BigInt(m[1] || "0") * unit;
    const digits = m[2] ?? "";
    const frac = digits === "" ? 0n : (BigInt(digits) * unit) / 10n ** BigInt(digits.length);
    total += whole + frac;
    rest = rest.slice(m[0].length);
  }
  return neg ? -total : total;
}

/**
 * Go's time.Duration.String(), ported from golang/go src/time/time.go (func (d Duration)
 * String, format, fmtFrac, fmtInt): "72h3m0.5s"; leading zero units omitted; under a second
 * in ms, µs or ns; zero is "0s"; hours are the largest unit.
 */
function goDurationString(d: bigint): string {
  const neg = d < 0n;
  let u = neg ? -d : d;
  // fmtFrac: the fraction of v/10**prec without trailing zeros (and no "." when it is 0).
  const fmtFrac = (v: bigint, prec: number): [string, bigint] => {
    let out = "";
    let print = false;
    for (let i = 0; i < prec; i++) {
      const digit = v % 10n;
      print ||= digit !== 0n;
      if (print) out = `${digit}${out}`;
      v /= 10n;
    }
    return [print ? `.${out}` : "", v];
  };
  let text: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return "0s";
    const [unit, prec] = u < 1000n ? ["ns", 0] : u < 1_000_000n ? ["µs", 3] : ["ms", 6];
    const [frac, v] = fmtFrac(u, prec as number);
    text = `${v}${frac}${unit}`;
  } else {
    const [frac, secs] = fmtFrac(u, 9);
    u = secs;
    text = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      text = `${u % 60n}m${text}`;
      u /= 60n;
      if (u > 0n) text = `${u}h${text}`;
    }
  }
  return neg ? `-${text}` : text;
}

describe("durations in the form the provider reads back", () => {
  // golang/go src/time/time_test.go durationTests (TestDurationString), and ParseDuration.
  it.each([
    ["0s", 0n],
    ["1ns", 1n],
    ["1.1µs", 1100n],
    ["2.2ms", 2_200_000n],
    ["3.3s", 3_300_000_000n],
    ["4m5s", 245_000_000_000n],
    ["4m5.001s", 245_001_000_000n],
    ["5h6m7.001s", 18_367_001_000_000n],
    ["8m0.000000001s", 480_000_000_001n],
    ["2562047h47m16.854775807s", (1n << 63n) - 1n],
    ["-2562047h47m16.854775808s", -(1n << 63n)],
  ])("the port of Go's Duration.String: %s", (text, ns) => {
    expect(goDurationString(ns)).toBe(text);
    expect(goParseDuration(text)).toBe(ns);
  });

  it.each([
    ["60s", "1m0s"],
    ["30s", "30s"],
    ["1h", "1h0m0s"],
    ["90m", "1h30m0s"],
    ["1.5s", "1.5s"],
    ["500ms", "500ms"],
    ["0", "0s"],
  ])("Go reads %s back as %s", (written, read) => {
    expect(goDurationString(goParseDuration(written))).toBe(read);
  });

  /**
   * The container's duration fields are the healthcheck's interval, timeout, start_period and
   * start_interval (resource_docker_container.go:1045-1094, the only fields of the container
   * schema validated by validateDurationGeq0, no DiffSuppressFunc). Create parses them with
   * time.ParseDuration (resource_docker_container_funcs.go:147-158); read sets them from
   * Docker's nanoseconds with time.Duration.String() (resource_docker_container_funcs.go:960-
   * 971). A value not already in that form, e.g. "60s" (read back as "1m0s"), differs from
   * state on every refresh and is updated on every `pulumi up`, never settling.
   */
  const DURATION_FIELDS = ["interval", "timeout", "startPeriod", "startInterval"] as const;

  it("every duration a container of the fleet sets is Go's String() of itself", async () => {
    const { evaluations } = await referenceFleet();
    const seen: string[] = [];
    const wrong: string[] = [];
    for (const stack of STACK_NAMES) {
      for (const c of ofType(evaluations[stack]!, T.container)) {
        const hc = reveal(c.inputs.healthcheck) as Record<string, unknown> | undefined;
        if (!hc) continue;
        expect(
          Object.keys(hc).filter((k) => !["tests", "retries", ...DURATION_FIELDS].includes(k)),
          `${stack}: ${String(c.inputs.name)}: healthcheck fields this test does not know`,
        ).toEqual([]);
        for (const field of DURATION_FIELDS) {
          const value = hc[field];
          if (value === undefined) continue;
          const at = `${stack}: ${String(c.inputs.name)} healthcheck.${field} = ${String(value)}`;
          seen.push(at);
          const canonical = goDurationString(goParseDuration(String(value)));
          if (value !== canonical) wrong.push(`${at}, read back as ${canonical}`);
        }
      }
    }
    // ntfy's and Traefik's healthchecks at least.
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(wrong).toEqual([]);
  });
});

/** A service's backup sidecar dumps it (the dump is declared on the service's backup). */
function declaresDump(e: Evaluation, name: string): boolean {
  const sidecar = ofType(e, T.container).find((c) => c.inputs.name === `${name}-backup`);
  if (!sidecar) return false;
  const script = uploadsOf(sidecar).find((u) => u.file === "/usr/local/bin/homelab-backup");
  return !String(script?.content).includes("\nDUMP_COMMAND=''\n");
}

describe("containers stop before they are removed (destroy_grace_seconds)", () => {
  /**
   * resourceDockerContainerDelete (resource_docker_container_funcs.go:1086-1108): the timeout
   * of ContainerStop is destroy_grace_seconds, and 0 (SIGKILL at once) when it is not set; then
   * ContainerRemove with RemoveVolumes = remove_volumes (default true,
   * resource_docker_container.go:256-261) and Force. With deleteBeforeReplace that is every
   * replacement. Docker's own stop timeout is 10 s; the postgres image asks for much more
   * ("even 90 seconds may not be long enough", docker-library/postgres
   * Dockerfile-debian.template).
   */
  it.each(STACK_NAMES)(
    "%s: every container has a grace period, databases at least 60 s, others at least 10 s",
    async (stack) => {
      const e = (await referenceFleet()).evaluations[stack]!;
      const containers = ofType(e, T.container);
      expect(containers.length).toBeGreaterThan(5);
      for (const c of containers) {
        const name = String(c.inputs.name);
        const image = String(reveal(c.inputs.image));
        const spec = String(
          reveal(
            ofType(e, T.image).find((i) => i.name === `${c.name}-image`)?.inputs.name ?? image,
          ),
        );
        const database = /(^|\/)(postgres|mariadb)[:@]/.test(spec) || declaresDump(e, name);
        const grace = c.inputs.destroyGraceSeconds;
        expect(typeof grace, name).toBe("number");
        expect(grace as number, name).toBeGreaterThanOrEqual(database ? 60 : 10);
      }
    },
  );

  it("the reference fleet's databases are recognised as such", async () => {
    const e = (await referenceFleet()).evaluations.home!;
    expect(declaresDump(e, "immich-db")).toBe(true);
    expect(declaresDump(e, "immich")).toBe(false);
    const db = ofType(e, T.container).find((c) => c.inputs.name === "immich-db")!;
    expect(db.inputs.destroyGraceSeconds).toBeGreaterThanOrEqual(60);
  });
});

describe("stopGraceSeconds (components/docker.ts)", () => {
  it.each([
    ["ghcr.io/immich-app/postgres:14-vectorchord0.4.3-pgvectors0.2.0", 120],
    ["postgres:17", 120],
    ["registry.local:5000/library/mariadb:11@sha256:" + "0".repeat(64), 120],
    ["docker.io/valkey/valkey:8-bookworm", 120],
    ["vaultwarden/server:1.34.3", 30],
    ["ghcr.io/home-assistant/home-assistant:2025.11.3", 30],
    ["stalwartlabs/stalwart:v0.13.4", 30],
    ["restic/restic:0.18.0", 30],
  ])("%s: %i s", (image, seconds) => {
    expect(stopGraceSeconds(image)).toBe(seconds);
  });
});

/**
 * The DNS providers the config knows, against the lego that the pinned Traefik bundles.
 *
 * Traefik: IMAGES.traefik is traefik:v3.5.3; github:traefik/traefik go.mod at tag v3.5.3 requires
 * `github.com/go-acme/lego/v4 v4.25.2`. The facts below are vendored from github:go-acme/lego at
 * tag v4.25.2, file providers/dns/<name>/<name>.toml ([Configuration.Credentials]) and
 * providers/dns/<name>/<name>.go (NewDNSProvider: which variables it reads, and which together).
 */
import { describe, expect, it } from "vitest";
import { IMAGES } from "../components/defaults";
import {
  ConfigError,
  KNOWN_DNS_TOKEN_ENV,
  MULTI_VARIABLE_DNS_PROVIDERS,
  parseStackConfig,
} from "../lib/config";

const LEGO = "v4.25.2";
const TRAEFIK = "v3.5.3";

/**
 * Per provider: `alone` are variables that are enough by themselves (NewDNSProvider succeeds
 * with only that one set), `together` are sets lego reads only together.
 */
const LEGO_FACTS: Record<string, { alone: string[]; together: string[][]; cite: string }> = {
  // cloudflare.go NewDNSProvider (v4.25.2 L100-120): env.GetWithFallback(EMAIL, API_KEY), else
  // env.GetWithFallback(DNS_API_TOKEN, ZONE_API_TOKEN or DNS_API_TOKEN): the DNS token alone works
  // (the zone token falls back to it). CF_* are the aliases of CLOUDFLARE_* (cloudflare.toml).
  cloudflare: {
    alone: ["CF_DNS_API_TOKEN", "CLOUDFLARE_DNS_API_TOKEN"],
    together: [
      ["CF_API_EMAIL", "CF_API_KEY"],
      ["CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY"],
    ],
    cite: "providers/dns/cloudflare/cloudflare.go, cloudflare.toml",
  },
  // digitalocean.go L70: env.Get(EnvAuthToken) = DO_AUTH_TOKEN.
  digitalocean: {
    alone: ["DO_AUTH_TOKEN"],
    together: [],
    cite: "providers/dns/digitalocean/digitalocean.go",
  },
  // duckdns.go L62: env.Get(EnvToken) = DUCKDNS_TOKEN.
  duckdns: { alone: ["DUCKDNS_TOKEN"], together: [], cite: "providers/dns/duckdns/duckdns.go" },
  // gandiv5.go L85-86: GANDIV5_API_KEY (deprecated) or GANDIV5_PERSONAL_ACCESS_TOKEN; either alone.
  gandiv5: {
    alone: ["GANDIV5_PERSONAL_ACCESS_TOKEN", "GANDIV5_API_KEY"],
    together: [],
    cite: "providers/dns/gandiv5/gandiv5.go",
  },
  // hetzner.go L63: env.Get(EnvAPIKey) = HETZNER_API_KEY.
  hetzner: { alone: ["HETZNER_API_KEY"], together: [], cite: "providers/dns/hetzner/hetzner.go" },
  // linode.go L73: env.Get(EnvToken) = LINODE_TOKEN.
  linode: { alone: ["LINODE_TOKEN"], together: [], cite: "providers/dns/linode/linode.go" },
  // ovh.go L117-133 and newClient L259-272: OVH_ENDPOINT defaults to "ovh-eu"; application-key
  // auth is ovh.NewClient(endpoint, APPLICATION_KEY, APPLICATION_SECRET, CONSUMER_KEY), OAuth2 is
  // NewOAuth2Client(endpoint, CLIENT_ID, CLIENT_SECRET), OVH_ACCESS_TOKEN alone is
  // NewAccessTokenClient. OVH_APPLICATION_KEY alone (the old map entry) is not enough.
  ovh: {
    alone: ["OVH_ACCESS_TOKEN"],
    together: [
      ["OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY"],
      ["OVH_CLIENT_ID", "OVH_CLIENT_SECRET"],
    ],
    cite: "providers/dns/ovh/ovh.go, ovh.toml",
  },
  // desec.go L66: env.Get(EnvToken) = DESEC_TOKEN.
  desec: { alone: ["DESEC_TOKEN"], together: [], cite: "providers/dns/desec/desec.go" },
};

const base = {
  host: "home.example.net",
  domain: "home.example.com",
  acmeEmail: "admin@example.com",
  acmeChallenge: "dns",
};
const ctx = { stack: "home", serviceNames: [] };
const problems = (values: Record<string, unknown>) => {
  try {
    parseStackConfig({ values: { ...base, ...values }, secretsPresent: ["acmeDnsToken"] }, ctx);
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split("\n").slice(1).join("\n");
    throw e;
  }
  return "no error";
};

describe(`DNS providers against lego ${LEGO} (the lego of traefik ${TRAEFIK})`, () => {
  it("the facts are about the pinned Traefik", () => {
    // github:traefik/traefik go.mod at v3.5.3: github.com/go-acme/lego/v4 v4.25.2
    expect(IMAGES.traefik).toBe(`traefik:${TRAEFIK}`);
  });

  it("every known provider's variable is enough alone in lego", () => {
    for (const [provider, env] of Object.entries(KNOWN_DNS_TOKEN_ENV)) {
      const facts = LEGO_FACTS[provider];
      expect(facts, `${provider}: no lego ${LEGO} facts vendored`).toBeDefined();
      expect(facts!.alone, `${provider} (${facts!.cite})`).toContain(env);
    }
  });

  it("ovh is not known with one variable: lego needs several", () => {
    expect(KNOWN_DNS_TOKEN_ENV.ovh).toBeUndefined();
  });

  it("the multi-variable table matches lego", () => {
    for (const [provider, multi] of Object.entries(MULTI_VARIABLE_DNS_PROVIDERS)) {
      const facts = LEGO_FACTS[provider]!;
      expect(multi.sets, provider).toEqual(facts.together);
      if (multi.single) expect(facts.alone).toContain(multi.single);
    }
    for (const [provider, facts] of Object.entries(LEGO_FACTS)) {
      if (facts.together.length) expect(MULTI_VARIABLE_DNS_PROVIDERS[provider]).toBeDefined();
    }
  });

  it("ovh without acmeDnsTokenEnv: a clear error that it needs more than one variable", () => {
    expect(problems({ acmeDnsProvider: "ovh" })).toBe(
      '  acmeDnsTokenEnv: required for DNS provider "ovh": lego\'s ovh provider needs more than one variable (OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY, or OVH_CLIENT_ID and OVH_CLIENT_SECRET), and this program passes one (acmeDnsToken, in acmeDnsTokenEnv); set acmeDnsTokenEnv to OVH_ACCESS_TOKEN to use that one variable alone, or use another DNS provider or acmeChallenge "http"',
    );
  });

  it("a variable lego reads only with others is refused; one that works alone is accepted", () => {
    expect(problems({ acmeDnsProvider: "ovh", acmeDnsTokenEnv: "OVH_APPLICATION_KEY" })).toBe(
      '  acmeDnsTokenEnv: OVH_APPLICATION_KEY alone is not enough for DNS provider "ovh": lego reads it together with OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY, and this program passes one variable (acmeDnsToken); set acmeDnsTokenEnv to OVH_ACCESS_TOKEN to use that one variable alone',
    );
    expect(problems({ acmeDnsProvider: "cloudflare", acmeDnsTokenEnv: "CF_API_KEY" })).toBe(
      '  acmeDnsTokenEnv: CF_API_KEY alone is not enough for DNS provider "cloudflare": lego reads it together with CF_API_EMAIL, and this program passes one variable (acmeDnsToken)',
    );
    expect(problems({ acmeDnsProvider: "ovh", acmeDnsTokenEnv: "OVH_ACCESS_TOKEN" })).toBe(
      "no error",
    );
    for (const provider of Object.keys(KNOWN_DNS_TOKEN_ENV)) {
      expect(problems({ acmeDnsProvider: provider }), provider).toBe("no error");
    }
  });
});

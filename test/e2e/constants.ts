/** Constants shared by the e2e global setup (main process) and the tests (workers). */

/** Where scripts/lab/lab.sh keeps the lab's state. */
export const LAB_DIR = process.env.LAB_DIR ?? "/tmp/homelab-e2e";
/** The base domain of home in Pulumi.home.yaml: ntfy runs there in the lab fleet. */
export const HOME_DOMAIN = "home.example.com";
/** The ntfy host the alerts go to; the lab's TLS certificate is made for it. */
export const NTFY_HOST = `ntfy.${HOME_DOMAIN}`;
/** Ports of the Gatus/ntfy recorder on the lab bridge. */
export const RECORDER_PORTS = { http: 18080, https: 18443 } as const;

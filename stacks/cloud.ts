/**
 * cloud — the public server (Hetzner VM): mail and the fleet's ntfy (ntfy itself is a
 * standard component, switched on by `ntfyServer: cloud`). Mail ports are published
 * directly, and every server watches them with TCP, STARTTLS and TLS checks.
 */
import type { ServerDeclaration } from "./types";

export default function cloud(): ServerDeclaration {
  return {
    role: "public services: mail, notifications, external monitoring",
    services: [
      {
        name: "mail",
        description: "Stalwart mail server (SMTP, submission, IMAP)",
        image: "stalwartlabs/stalwart:v0.13.4", // source: github:stalwartlabs/stalwart tag v0.13.4
        http: { port: 8080, healthPath: "/healthz/live", admin: true },
        ports: [
          { port: 25, check: "tcp" },
          { port: 465, check: "tls" },
          { port: 587, check: "starttls" },
          { port: 993, check: "tls" },
        ],
        volumes: [{ name: "data", path: "/opt/stalwart" }],
        // RocksDB under /opt/stalwart/data is not consistent while the server writes it, and
        // Stalwart's own --export also needs the server stopped (stalw.art/docs/management/migration;
        // v0.13.4 crates/common/src/manager/boot.rs:52-67): stopped for the snapshot.
        backup: { capture: "stop", maxDowntime: 300, verifyFiles: ["data/etc/config.toml"] },
        updates: "pinned",
      },
    ],
  };
}

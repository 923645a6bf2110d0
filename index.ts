/**
 * Entry point: one server per stack. `pulumi preview --stack home` evaluates this for home.
 * Config problems end the run with one message listing each of them (no stack trace).
 *
 * The stack outputs:
 * - endpoints: what peers' Gatus watch;
 * - syncthing: Syncthing device ID, address, the folder of this server's repositories, and its
 *   trust level (what it may hold of its peers' backups);
 * - backups: backup repositories of this server (replicated to peers);
 * - backupPasswords (secret): restic passwords by service, for the replicas' checks and drills
 *   on peers with `trust: full` (a `trust: storage` peer never reads it);
 * - ntfy, ntfyPublishTokens (secret): on the ntfy server only, its URL and topic prefix and
 *   each server's publish token;
 * - summary: URLs of everything on this server;
 * - credentials (secret): logins of the admin UIs
 *   (`pulumi stack output --show-secrets credentials`).
 * - catalogue: what runs here (name, description, URL, icon, status URL per service and
 *   standard UI), read by the server that hosts the fleet's homepage.
 */
import * as pulumi from "@pulumi/pulumi";
import { createServerStack, stackOutputs } from "./lib/program";

export = stackOutputs(createServerStack(pulumi.getStack(), pulumi.getProject()));

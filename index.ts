/**
 * Entry point: one server per stack. `pulumi preview --stack home` evaluates this for home.
 * Config problems end the run with one message listing each of them (no stack trace).
 */
import * as pulumi from "@pulumi/pulumi";
import { createServerStack } from "./lib/program";

const out = createServerStack(pulumi.getStack(), pulumi.getProject());

/** Endpoints peers' Gatus watch. */
export const endpoints = out.endpoints;
/** Syncthing device ID, address and the folder of this server's repositories. */
export const syncthing = out.syncthing;
/** Backup repositories of this server (replicated to peers). */
export const backups = out.backups;
/** Restic passwords by service (secret): replicas need them to check and drill. */
export const backupPasswords = out.backupPasswords;
/** On the ntfy server: its URL and topic prefix. */
export const ntfy = out.ntfy;
/** On the ntfy server: each server's publish token (secret). */
export const ntfyPublishTokens = out.ntfyPublishTokens;
/** Human summary: URLs of everything on this server. */
export const summary = out.summary;
/** Logins of the admin UIs (secret): `pulumi stack output --show-secrets credentials`. */
export const credentials = out.credentials;

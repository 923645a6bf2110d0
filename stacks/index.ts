/**
 * The servers of the fleet, by stack name. Adding a server: write stacks/<name>.ts, add it
 * here, create Pulumi.<name>.yaml (see docs/add-a-server.md).
 */
import cloud from "./cloud";
import home from "./home";
import offsite from "./offsite";
import type { StackFile } from "./types";

export const STACKS: Record<string, StackFile> = { cloud, home, offsite };

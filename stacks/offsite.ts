/**
 * offsite — the backup replica (Raspberry Pi 4 at a friend's place): no local services, only
 * the standard four and receive-only replicas of the other servers' repositories, checked
 * and restore-drilled on schedule.
 */
import type { ServerDeclaration } from "./types";

export default function offsite(): ServerDeclaration {
  return { role: "backup replicas only", services: [] };
}

/** Serves the homelab-guardrails policy pack (policies.ts) to the Pulumi engine. */
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, guardrailPolicies } from "./policies";

new PolicyPack(PACK_NAME, { policies: guardrailPolicies() });

import type { ServerDeclaration } from "../lib/model";

export type { ServerDeclaration };

/** What a stack file may use to build its declaration. */
export interface StackContext {
  /** The server's base domain (from stack config). */
  domain: string;
}

/** A stack file's default export. */
export type StackFile = (ctx: StackContext) => ServerDeclaration;

// dynalite 4.0.0 ships no type declarations (see shared/ENVIRONMENT.md). Only what the tests use.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  export interface DynaliteOptions {
    /** Time tables stay CREATING (default 500 ms). */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    /** Default 400. */
    maxItemSizeKb?: number;
    /** LevelDB directory; in memory when omitted. */
    path?: string;
    ssl?: boolean;
    verbose?: boolean;
    debug?: boolean;
  }

  /** An HTTP(S) server speaking the DynamoDB API: call `listen(port, host)` on it. */
  export default function dynalite(options?: DynaliteOptions): Server;
}

/**
 * The SQL surface otaflow uses: PostgreSQL in production, PGlite (the same SQL, embedded) by default.
 * Both return `{ rows }` from a parameterised query.
 */
export interface Database {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
  /** Runs `work` in one transaction; the callback's queries go through the given handle. */
  transaction<T>(work: (tx: Pick<Database, 'query'>) => Promise<T>): Promise<T>;
  /** PostgreSQL's connection pool, now: its connections, the idle ones, the requests waiting. */
  connections?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

/**
 * The database as every process uses it, timed: each query outside a transaction and each transaction
 * (the queries inside it included), and, on PostgreSQL, its connection pool. PGlite has no pool.
 */
import { Gauge } from 'prom-client';
import type { Database } from '../db/database';
import type { OtaflowMetrics } from './metrics';

export function meteredDatabase(
  db: Database,
  metrics: Pick<OtaflowMetrics, 'registry' | 'databaseSeconds'>,
): Database {
  const timed = async <T>(operation: 'query' | 'transaction', work: () => Promise<T>): Promise<T> => {
    const stopTimer = metrics.databaseSeconds.startTimer({ operation });
    try {
      return await work();
    } finally {
      stopTimer();
    }
  };
  const { connections } = db;
  if (connections) {
    new Gauge({
      name: 'otaflow_database_connections',
      help: "The PostgreSQL pool's connections, by state: idle, busy (lent out), and the requests waiting for one",
      labelNames: ['state'] as const,
      registers: [metrics.registry],
      collect() {
        const { total, idle, waiting } = connections();
        this.set({ state: 'idle' }, idle);
        this.set({ state: 'busy' }, total - idle);
        this.set({ state: 'waiting' }, waiting);
      },
    });
  }
  return {
    query: (sql, params) => timed('query', () => db.query(sql, params)),
    transaction: (work) => timed('transaction', () => db.transaction(work)),
    connections,
    close: () => db.close(),
  };
}

/**
 * `/readyz`: whether this process can do its work now, with each server it depends on named and what
 * it answered. A readiness probe (the Helm chart's, compose's) takes an unready process out of its
 * service without restarting it: it is ready again by itself once the server is back. `/healthz`
 * stays the liveness answer and checks nothing.
 */

import type { Database } from './db/database';

/** The servers an otaflow process may depend on, by the name `/readyz` gives them. */
export type DependencyName = 'temporal' | 'database' | 'package-store' | 'mqtt-broker';

/** How to tell that one dependency answers: resolves when it does, rejects saying why not. */
export interface DependencyCheck {
  name: DependencyName;
  probe(deadline: Date): Promise<void>;
}

export type DependencyState =
  | { reachable: true; ms: number }
  | { reachable: false; ms: number; error: string };

export interface Readiness {
  status: 'ready' | 'unready';
  dependencies: Partial<Record<DependencyName, DependencyState>>;
}

/** How long each dependency has to answer: under the probes' own timeout (1 s is Kubernetes' default). */
export const DEPENDENCY_TIMEOUT_MS = 800;
/**
 * How long one answer is reused. `/readyz` needs no credentials, so a flood of requests must not
 * become a flood of queries to the database, Temporal and the package store.
 */
export const READINESS_REUSE_MS = 1_000;

export function databaseCheck(db: Pick<Database, 'query'>): DependencyCheck {
  return {
    name: 'database',
    probe: async () => {
      await db.query('select 1');
    },
  };
}

/** Asks every dependency at once; a process is ready when all of them answered in time. */
export async function checkDependencies(
  checks: readonly DependencyCheck[],
  timeoutMs = DEPENDENCY_TIMEOUT_MS,
): Promise<Readiness> {
  const states = await Promise.all(
    checks.map(async ({ name, probe }): Promise<[DependencyName, DependencyState]> => {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([probe(new Date(Date.now() + timeoutMs)), timedOut]);
        return [name, { reachable: true, ms: elapsed() }];
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return [name, { reachable: false, ms: elapsed(), error: message }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return {
    status: states.every(([, state]) => state.reachable) ? 'ready' : 'unready',
    dependencies: Object.fromEntries(states),
  };
}

/**
 * The process's readiness as `/readyz` answers it: one check of the dependencies at a time, its answer
 * reused for READINESS_REUSE_MS. `checks` may still grow while the process starts its roles.
 */
export function createReadiness(
  checks: readonly DependencyCheck[],
  now: () => number = Date.now,
): () => Promise<Readiness> {
  let latest: { at: number; answer: Promise<Readiness> } | undefined;
  return () => {
    if (latest === undefined || now() - latest.at >= READINESS_REUSE_MS) {
      latest = { at: now(), answer: checkDependencies(checks) };
    }
    return latest.answer;
  };
}

/** The HTTP status `/readyz` answers with: 503 tells a probe (and a load balancer) to stay away. */
export function readinessStatusCode(readiness: Readiness): 200 | 503 {
  return readiness.status === 'ready' ? 200 : 503;
}

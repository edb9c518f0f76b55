import { Router } from 'express';
import type { Database } from '../../db/database';
import { countDeviceVersions } from '../../db/devices';

/** Enough for every version of hundreds of products: the answer is not paged. */
export const MAX_VERSION_COUNTS = 2000;

/** `GET /v1/fleet/versions`: the fleet's version distribution, per product and model. */
export function fleetRouter(deps: { db: Database }): Router {
  const router = Router({ caseSensitive: true });
  router.get('/versions', async (_req, res) => {
    res.json({ items: await countDeviceVersions(deps.db, MAX_VERSION_COUNTS) });
  });
  return router;
}

import { Router } from 'express';
import { findApiKey, insertApiKey, listApiKeys, revokeApiKey } from '../../db/api-keys';
import type { Database } from '../../db/database';
import { newId } from '../../db/ids';
import { generateApiKey, hashApiKey } from '../auth';
import { notFound } from '../problem';
import { ApiKeyParams, CreateApiKeyRequest, PageQuery } from '../schemas';
import { parseInput } from '../validate';

/** API keys (admin scope): created with a key shown once, revoked rather than deleted. */
export function apiKeysRouter(deps: { db: Database }): Router {
  const { db } = deps;
  const router = Router({ caseSensitive: true });

  router.post('/', async (req, res) => {
    const request = parseInput(CreateApiKeyRequest, req.body, 'body');
    const key = generateApiKey();
    const created = await insertApiKey(db, { id: newId('key'), ...request, keyHash: hashApiKey(key) });
    res
      .status(201)
      .location(`/v1/api-keys/${created.id}`)
      .json({ ...created, key });
  });

  router.get('/', async (req, res) => {
    res.json(await listApiKeys(db, parseInput(PageQuery, req.query, 'query')));
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(ApiKeyParams, req.params, 'params');
    const key = await findApiKey(db, id);
    if (!key) throw notFound(`API key ${id} does not exist`);
    res.json(key);
  });

  /** Revokes the key at once; it stays listed, with `revokedAt`. */
  router.delete('/:id', async (req, res) => {
    const { id } = parseInput(ApiKeyParams, req.params, 'params');
    if (!(await revokeApiKey(db, id))) throw notFound(`API key ${id} does not exist`);
    res.status(204).end();
  });

  return router;
}

import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import type { OtaflowMetrics } from '../../metrics/metrics';
import type { PackageDownloads } from '../../packages/download';
import { HttpProblem } from '../problem';
import { DownloadParams } from '../schemas';
import { parseInput } from '../validate';

/** `GET /ota/packages/:packageId/file`: where devices fetch a package with their Bearer token. */
export function downloadsRouter(
  downloads: PackageDownloads,
  metrics: Pick<OtaflowMetrics, 'packageBytesServed'>,
): Router {
  const router = Router({ caseSensitive: true });

  router.get('/ota/packages/:packageId/file', async (req, res) => {
    const { packageId } = parseInput(DownloadParams, req.params, 'params');
    const answer = await downloads.openDownload(packageId, req.get('authorization'), req.get('range'));
    if (answer.kind === 'refused') {
      if (answer.status === 401) res.set('WWW-Authenticate', 'Bearer');
      throw new HttpProblem(answer.status, 'Download refused', answer.message);
    }
    res.status(answer.status).set(answer.headers);
    answer.body.on('data', (chunk: Buffer) =>
      metrics.packageBytesServed.inc({ transport: 'http' }, chunk.length),
    );
    try {
      await pipeline(answer.body, res);
    } catch {
      // The device went away mid-download; it resumes with a Range request.
      answer.body.destroy();
    }
  });

  return router;
}

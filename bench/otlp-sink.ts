/**
 * An OTLP/HTTP trace receiver that accepts everything and keeps only counts: the collector the
 * benchmark's traced runs export to, so that what tracing costs otaflow is measured without a real
 * backend's own cost on the same two cores (BENCHMARKS.md, "What tracing costs").
 *
 *   npx tsx bench/otlp-sink.ts [port, default 4318]
 *
 * It prints the requests and bytes received so far each time it is sent SIGINT or SIGTERM, then exits.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 4318);
let requests = 0;
let bytes = 0;

const server = createServer((req, res) => {
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    requests++;
    // An empty ExportTraceServiceResponse: every span accepted.
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' });
    res.end(req.headers['content-type'] === 'application/json' ? '{}' : undefined);
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`OTLP sink on http://127.0.0.1:${port} (POST /v1/traces)\n`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stdout.write(`OTLP sink: ${requests} export requests, ${(bytes / 1024 / 1024).toFixed(1)} MiB\n`);
    server.close(() => process.exit(0));
  });
}

/**
 * `tsx src/cli/tls-certificates.ts DIR [HOSTNAME...]`: the local certificate authority and server
 * certificate of `npm start`, made (or kept) in DIR for components that share them — in
 * docker-compose.yml, Mosquitto's TLS listener and otaflow's HTTPS downloads. Prints the CA file.
 */
import { ensureLocalCertificates } from '../tls/local-certificate-authority';
import { LOOPBACK_NAMES } from '../tls/platform-credentials';

async function main(): Promise<void> {
  const [dir, ...hostnames] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write('usage: tls-certificates DIR [HOSTNAME...]\n');
    process.exit(2);
  }
  const local = await ensureLocalCertificates(dir, [...LOOPBACK_NAMES, ...hostnames]);
  const what = local.createdAuthority ? 'created' : local.issuedServerCertificate ? 'reissued' : 'kept';
  process.stdout.write(`tls-certificates: ${what}; devices verify against ${local.caFile}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`tls-certificates: ${(error as Error).message}\n`);
  process.exit(1);
});

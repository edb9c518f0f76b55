import http from 'node:http';
import https from 'node:https';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

/** POSTs webhook deliveries to public receivers only (SSRF): the address is checked as connected to. */
export interface ReceiverTransport {
  /** The receiver's status code; redirects are not followed. */
  post(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<number>;
  close(): void;
}

/**
 * A receiver's URL is the subscriber's to choose, so it could name otaflow's own neighbours: MinIO,
 * the Temporal frontend, a cloud metadata service (169.254.169.254). request-filtering-agent checks the
 * address each connection is made to (after DNS, so a name that resolves differently at delivery time
 * than at creation is caught too) and refuses loopback, private, link-local and reserved ones, except
 * those in `allowedNetworks` (addresses or CIDR ranges, for deployments whose receivers are internal).
 */
export function createReceiverTransport(options: { allowedNetworks: readonly string[] }): ReceiverTransport {
  const agentOptions = { keepAlive: true, allowIPAddressList: [...options.allowedNetworks] };
  const agents = {
    http: new RequestFilteringHttpAgent(agentOptions),
    https: new RequestFilteringHttpsAgent(agentOptions),
  };
  return {
    post(url, body, headers, signal) {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      return new Promise((resolve, reject) => {
        const request = (secure ? https : http).request(
          target,
          {
            method: 'POST',
            headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
            agent: secure ? agents.https : agents.http,
            signal,
          },
          (response) => {
            response.on('error', reject);
            response.on('end', () => resolve(response.statusCode ?? 0));
            response.resume();
          },
        );
        request.on('error', (error) => reject(refusedTarget(error) ?? error));
        request.end(body);
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export class ReceiverAddressRefused extends Error {
  override name = 'ReceiverAddressRefused';
}

/**
 * The agent's own message names the resolved address; ours does not: a subscriber must not learn how
 * otaflow's network resolves names, nor, by comparing answers, which internal ports are open.
 */
function refusedTarget(error: Error): ReceiverAddressRefused | undefined {
  if (!/is not allowed\. Because/.test(error.message)) return undefined;
  return new ReceiverAddressRefused(
    "refused: the receiver's address is not public (loopback, private, link-local or reserved); " +
      'allow its network with OTAFLOW_WEBHOOK_ALLOWED_NETWORKS',
  );
}

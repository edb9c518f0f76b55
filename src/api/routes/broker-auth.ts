/**
 * The HTTP backend of the mosquitto-go-auth plugin, so that Mosquitto applies the same device login
 * and topic rules as the embedded broker: `POST {token}/user`, `{token}/superuser` and `{token}/acl`
 * with JSON bodies (`auth_opt_http_params_mode json`). 200 allows, 403 denies (`http_response_mode
 * status`); the `{ ok, error }` body also satisfies the plugin's `json` response mode.
 *
 * The plugin cannot send extra headers, so the shared secret travels in the path: whoever knows it
 * could probe device passwords, and the path is therefore never logged here.
 */
import express, { type ErrorRequestHandler, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../../logger';
import { type DeviceAuthenticator, type MqttPrincipal, secureEquals } from '../../mqtt/device-auth';
import { mayPublish, maySubscribe } from '../../mqtt/topic-rules';
import { HttpProblem, sendProblem } from '../problem';
import { parseInput } from '../validate';

export interface BrokerAuthHttpOptions {
  /** The shared secret Mosquitto puts in the URIs (MQTT_AUTH_HTTP_TOKEN). */
  token: string;
  authenticate: DeviceAuthenticator;
  /** The gateway's service account: the only superuser. */
  serviceUsername: string;
  log: Logger;
}

const UserCheck = z.object({ username: z.string(), password: z.string(), clientid: z.string() });
const SuperuserCheck = z.object({ username: z.string() });
/** mosquitto-go-auth's `acc`: 1 read (a message delivered), 2 write (publish), 3 both, 4 subscribe. */
const AclCheck = z.object({
  username: z.string(),
  clientid: z.string(),
  topic: z.string().min(1),
  acc: z.literal([1, 2, 3, 4]),
});

function mayAccess(principal: MqttPrincipal, topic: string, acc: 1 | 2 | 3 | 4): boolean {
  switch (acc) {
    case 1:
    case 4:
      return maySubscribe(principal, topic);
    case 2:
      return mayPublish(principal, topic);
    case 3:
      return mayPublish(principal, topic) && maySubscribe(principal, topic);
  }
}

export function brokerAuthHttpRouter(options: BrokerAuthHttpOptions): Router {
  const { log, serviceUsername } = options;
  const allow = (res: express.Response) => res.status(200).json({ ok: true });
  const deny = (res: express.Response, reason: string) => res.status(403).json({ ok: false, error: reason });
  const principalOf = (username: string): MqttPrincipal =>
    username === serviceUsername ? { kind: 'service' } : { kind: 'device', deviceId: username };

  const requireToken: RequestHandler<{ token: string }> = (req, _res, next) => {
    if (!secureEquals(req.params.token, options.token)) {
      throw new HttpProblem(403, 'Forbidden', 'wrong or missing MQTT auth token in the path');
    }
    next();
  };

  const checks = Router({ caseSensitive: true });
  checks.use(express.json({ limit: '16kb' }));
  checks.post('/user', async (req, res) => {
    const { username, password, clientid } = parseInput(UserCheck, req.body, 'body');
    const result = await options.authenticate({ clientId: clientid, username, password });
    if (result.ok) return allow(res);
    log.warn({ clientId: clientid, reason: result.reason }, 'MQTT connection refused');
    deny(res, result.reason);
  });
  checks.post('/superuser', (req, res) => {
    const { username } = parseInput(SuperuserCheck, req.body, 'body');
    if (username === serviceUsername) return allow(res);
    deny(res, `${username} is not the service account`);
  });
  checks.post('/acl', (req, res) => {
    const { username, clientid, topic, acc } = parseInput(AclCheck, req.body, 'body');
    if (mayAccess(principalOf(username), topic, acc)) return allow(res);
    log.warn({ clientId: clientid, username, topic, acc }, 'MQTT topic access refused');
    deny(res, `${username} may not access ${topic} (acc ${acc})`);
  });

  const serverError: ErrorRequestHandler = (error, _req, res, next) => {
    const { status } = (error ?? {}) as { status?: unknown };
    if (typeof status === 'number' && status < 500) return next(error);
    // Logged here rather than by the API's handler, which would log the path and with it the token.
    log.error({ err: error }, 'MQTT broker auth check failed');
    sendProblem(res, new HttpProblem(500, 'Internal server error', 'the auth check failed'));
  };

  const router = Router({ caseSensitive: true });
  router.use('/:token', requireToken, checks, serverError);
  return router;
}

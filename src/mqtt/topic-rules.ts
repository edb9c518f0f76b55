/**
 * Which topics a broker principal may use: one set of rules for the embedded broker and for
 * Mosquitto (through otaflow's auth endpoints, src/api/routes/broker-auth.ts).
 */
import { filterOfSharedSubscription, isPluginTopic } from './broker-topics';
import type { MqttPrincipal } from './device-auth';

function topicLevels(topic: string): string[] {
  return topic.split('/');
}

/** A device may publish only under `$oc/devices/{its id}/sys/`. */
export function mayPublish(principal: MqttPrincipal, topic: string): boolean {
  const [root, devices, deviceId, sys, ...rest] = topicLevels(topic);
  if (root !== '$oc' || devices !== 'devices' || sys !== 'sys' || rest.length === 0) return false;
  return principal.kind === 'service' || deviceId === principal.deviceId;
}

/**
 * A device may subscribe only under `$oc/devices/{its id}/`; the service account to any device's `sys/`
 * and to what otaflow's Mosquitto plugin publishes for it (`otaflow/uplinks/+`, `otaflow/presence/+`),
 * as itself or in a shared subscription (`$share/{group}/…`).
 */
export function maySubscribe(principal: MqttPrincipal, filter: string): boolean {
  const shared = filterOfSharedSubscription(filter);
  if (shared !== undefined) return principal.kind === 'service' && maySubscribe(principal, shared);
  if (principal.kind === 'service' && isPluginTopic(filter)) return true;
  const [root, devices, deviceId, ...rest] = topicLevels(filter);
  if (root !== '$oc' || devices !== 'devices' || rest.length === 0) return false;
  if (principal.kind === 'device') return deviceId === principal.deviceId;
  return deviceId !== '#' && rest[0] === 'sys';
}

/**
 * The topics otaflow's Mosquitto plugin publishes for the gateways (deploy/mosquitto/implicit-subscription/),
 * and how a gateway joins a shared subscription. Mosquitto 2.0 delivers no `$` topic to a shared
 * subscription, so the plugin moves each event uplink to `otaflow/uplinks/{device id}` and publishes
 * presence on `otaflow/presence/{device id}` (docs/deployment.md, "MQTT gateways").
 */
export const BROKER_UPLINK_PREFIX = 'otaflow/uplinks/';
export const PRESENCE_TOPIC_PREFIX = 'otaflow/presence/';

/** `filter` as one subscriber of `group`'s shared subscription; unchanged without a group. */
export function sharedSubscription(filter: string, group: string | undefined): string {
  return group ? `$share/${group}/${filter}` : filter;
}

/** The filter a shared subscription (`$share/{group}/{filter}`) stands for; undefined for another filter. */
export function filterOfSharedSubscription(subscription: string): string | undefined {
  return /^\$share\/[^/+#]+\/(.+)$/.exec(subscription)?.[1];
}

/** `otaflow/{uplinks|presence}/{one level}`: what the plugin publishes, by topic or one-level filter. */
export function isPluginTopic(topic: string): boolean {
  return [BROKER_UPLINK_PREFIX, PRESENCE_TOPIC_PREFIX].some((prefix) => {
    const level = topic.startsWith(prefix) ? topic.slice(prefix.length) : '';
    return level !== '' && level !== '#' && !level.includes('/');
  });
}

/*
 * otaflow's implicit subscription for Mosquitto 2.0 (plugin API version 5).
 *
 * The seed platform delivers its downlink system topics ($oc/devices/{device_id}/sys/events/down,
 * commands, property set/get, shadow responses, messages) to a device without any SUBSCRIBE from it,
 * and the device SDKs built for that platform never send one. Mosquitto delivers only to
 * subscriptions, and 2.0 gives a plugin no way to add one; it does let a plugin publish to one client
 * "whether or not it has a matching subscription" (mosquitto_broker_publish). So this plugin:
 *
 *   - keeps every connection that logged in with a username (the device ID, in the seed protocol),
 *     from its login attempt until it is gone (a refused login ends in a disconnect too);
 *   - when a message arrives on one of a device's downlink system topics, publishes a copy to each
 *     of that device's live connections, and renames the original to a topic nobody can subscribe
 *     to, so that a device that did subscribe receives it once, not twice;
 *   - when the device has no live connection, leaves the message alone: a persistent session that
 *     subscribed still gets it queued, as before.
 *
 * Read access is still checked by the broker for every copy (the ACL or auth plugin decides whether
 * that client may read that topic), so a connection is never sent another device's downlinks.
 *
 * It also tells otaflow's gateway when a device comes online and goes offline, from authenticated
 * connections only: Mosquitto 2.0 has no event for a successful login, but a refused one loses its
 * client ID before the broker's next loop tick, so a connection that still has one at the first tick
 * after its login attempt was let in. A device is online while at least one of its connections is
 * (the seed protocol changes the client ID hourly, so two may overlap): on `otaflow/presence/{id}`
 * the plugin publishes `{"connections":N,"at":T}` (QoS 1, not retained) each time that count changes
 * between zero and one, T being the broker's clock in milliseconds since 1970, so that gateways that
 * record the changes late or out of order apply them in the order they happened. A failed CONNECT,
 * even under a connected device's client ID, changes nothing.
 *
 * And it moves each device's event uplink, `$oc/devices/{id}/sys/events/up`, to `otaflow/uplinks/{id}`
 * before the broker routes it. Mosquitto 2.0 delivers no `$` topic to a shared subscription, and
 * otaflow's MQTT gateways share one (`$share/{group}/otaflow/uplinks/+`) so that each uplink reaches
 * one of them; presence is on a topic without `$` for the same reason. Devices cannot publish there
 * (the ACL lets a device write only under its own `$oc/devices/{id}/`), so what arrives on it was
 * sent by the device the topic names.
 * Build: cc -shared -fPIC -O2 -o otaflow_implicit_subscription.so otaflow_implicit_subscription.c
 * (headers from Debian's mosquitto-dev). Configure: plugin /path/otaflow_implicit_subscription.so
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define BUCKETS 4096
/* Where a message delivered straight to its device's connections goes instead: '$' topics are not
 * matched by wildcard filters, and no ACL lets anyone subscribe to this one. */
#define DELIVERED_TOPIC "$otaflow/implicitly-delivered"
#define PRESENCE_TOPIC_PREFIX "otaflow/presence/"
#define UPLINK_TOPIC_PREFIX "otaflow/uplinks/"

static const char DEVICES_PREFIX[] = "$oc/devices/";
static const char *const DOWNLINK_TOPICS[] = {
	"messages/down", "events/down", NULL,
};
static const char *const DOWNLINK_TOPIC_TREES[] = {
	"commands", "properties/set", "properties/get", "shadow/get/response", NULL,
};

struct connection {
	struct mosquitto *client;
	struct connection *next;
	/* Let in (seen with a client ID at a tick after its login attempt), and counted as such. */
	bool authenticated;
	/* Still to be looked at by the next tick: on the `pending` list. */
	bool pending;
	struct connection *next_pending;
};

static mosquitto_plugin_id_t *plugin_id;
static struct connection *buckets[BUCKETS];
static struct connection *pending;

static unsigned bucket_of(const char *name, size_t length)
{
	uint32_t hash = 2166136261u; /* FNV-1a */
	for(size_t i = 0; i < length; i++){
		hash = (hash ^ (uint8_t)name[i]) * 16777619u;
	}
	return hash % BUCKETS;
}

static bool same_username(struct mosquitto *client, const char *username)
{
	const char *other = mosquitto_client_username(client);
	return other != NULL && strcmp(other, username) == 0;
}

/* The authenticated connections of `username`'s device. */
static unsigned authenticated_connections(const char *username)
{
	unsigned count = 0;
	for(struct connection *c = buckets[bucket_of(username, strlen(username))]; c; c = c->next){
		if(c->authenticated && same_username(c->client, username)) count++;
	}
	return count;
}

static void publish_presence(const char *username, unsigned connections)
{
	char topic[sizeof(PRESENCE_TOPIC_PREFIX) + 256];
	char payload[64];
	struct timespec now;
	if(snprintf(topic, sizeof(topic), "%s%s", PRESENCE_TOPIC_PREFIX, username) >= (int)sizeof(topic)) return;
	clock_gettime(CLOCK_REALTIME, &now);
	long long at = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	int length = snprintf(payload, sizeof(payload), "{\"connections\":%u,\"at\":%lld}", connections, at);
	mosquitto_broker_publish_copy(NULL, topic, length, payload, 1, false, NULL);
}

static void track(struct mosquitto *client)
{
	const char *username = mosquitto_client_username(client);
	if(username == NULL) return;
	unsigned bucket = bucket_of(username, strlen(username));
	for(struct connection *c = buckets[bucket]; c; c = c->next){
		if(c->client == client) return;
	}
	struct connection *added = mosquitto_calloc(1, sizeof(*added));
	if(added == NULL) return;
	added->client = client;
	added->next = buckets[bucket];
	buckets[bucket] = added;
	added->pending = true;
	added->next_pending = pending;
	pending = added;
}

static void forget(struct mosquitto *client)
{
	const char *username = mosquitto_client_username(client);
	if(username == NULL) return;
	struct connection **link = &buckets[bucket_of(username, strlen(username))];
	while(*link){
		if((*link)->client == client){
			struct connection *gone = *link;
			*link = gone->next;
			if(gone->pending){
				for(struct connection **p = &pending; *p; p = &(*p)->next_pending){
					if(*p == gone){
						*p = gone->next_pending;
						break;
					}
				}
			}
			if(gone->authenticated && authenticated_connections(username) == 0){
				publish_presence(username, 0);
			}
			mosquitto_free(gone);
			return;
		}
		link = &(*link)->next;
	}
}

/* The device ID of a downlink system topic ($oc/devices/{id}/sys/...), as a slice of the topic. */
static bool downlink_device(const char *topic, const char **device_id, size_t *length)
{
	size_t prefix = sizeof(DEVICES_PREFIX) - 1;
	if(strncmp(topic, DEVICES_PREFIX, prefix) != 0) return false;
	const char *id = topic + prefix;
	const char *end = strchr(id, '/');
	if(end == NULL || end == id || strncmp(end, "/sys/", 5) != 0) return false;
	const char *rest = end + 5;
	bool matches = false;
	for(int i = 0; DOWNLINK_TOPICS[i] && !matches; i++){
		matches = strcmp(rest, DOWNLINK_TOPICS[i]) == 0;
	}
	for(int i = 0; DOWNLINK_TOPIC_TREES[i] && !matches; i++){
		size_t n = strlen(DOWNLINK_TOPIC_TREES[i]);
		matches = strncmp(rest, DOWNLINK_TOPIC_TREES[i], n) == 0 && (rest[n] == '\0' || rest[n] == '/');
	}
	if(!matches) return false;
	*device_id = id;
	*length = (size_t)(end - id);
	return true;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *auth = event_data;
	(void)event;
	(void)userdata;
	track(auth->client);
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *gone = event_data;
	(void)event;
	(void)userdata;
	forget(gone->client);
	return MOSQ_ERR_SUCCESS;
}

/* Each connection that still has its client ID at the first tick after its login attempt was let in. */
static int on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	while(pending){
		struct connection *c = pending;
		pending = c->next_pending;
		c->pending = false;
		const char *username = mosquitto_client_username(c->client);
		if(username == NULL || mosquitto_client_id(c->client) == NULL) continue;
		c->authenticated = true;
		if(authenticated_connections(username) == 1) publish_presence(username, 1);
	}
	return MOSQ_ERR_SUCCESS;
}

/* The device of an event uplink topic, `$oc/devices/{id}/sys/events/up`. */
static bool uplink_device(const char *topic, const char **device_id, size_t *length)
{
	static const char suffix[] = "/sys/events/up";
	size_t prefix = sizeof(DEVICES_PREFIX) - 1;
	if(strncmp(topic, DEVICES_PREFIX, prefix) != 0) return false;
	const char *id = topic + prefix;
	const char *end = strchr(id, '/');
	if(end == NULL || end == id || strcmp(end, suffix) != 0) return false;
	*device_id = id;
	*length = (size_t)(end - id);
	return true;
}

static void move_uplink(struct mosquitto_evt_message *message, const char *device_id, size_t length)
{
	size_t size = sizeof(UPLINK_TOPIC_PREFIX) + length;
	char *moved = mosquitto_malloc(size);
	if(moved == NULL) return;
	snprintf(moved, size, "%s%.*s", UPLINK_TOPIC_PREFIX, (int)length, device_id);
	mosquitto_free(message->topic);
	message->topic = moved;
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *message = event_data;
	const char *device_id;
	size_t length;
	bool delivered = false;
	(void)event;
	(void)userdata;
	if(uplink_device(message->topic, &device_id, &length)){
		move_uplink(message, device_id, length);
		return MOSQ_ERR_SUCCESS;
	}
	if(!downlink_device(message->topic, &device_id, &length)) return MOSQ_ERR_SUCCESS;

	for(struct connection *c = buckets[bucket_of(device_id, length)]; c; c = c->next){
		const char *username = mosquitto_client_username(c->client);
		/* A refused login keeps its context until its disconnect, but no longer has a client ID. */
		const char *client_id = mosquitto_client_id(c->client);
		if(username == NULL || client_id == NULL) continue;
		if(strlen(username) != length || strncmp(username, device_id, length) != 0) continue;
		if(mosquitto_broker_publish_copy(client_id, message->topic, (int)message->payloadlen,
				message->payload, message->qos, false, NULL) == MOSQ_ERR_SUCCESS){
			delivered = true;
		}
	}
	if(delivered){
		char *renamed = mosquitto_strdup(DELIVERED_TOPIC);
		if(renamed){
			mosquitto_free(message->topic);
			message->topic = renamed;
		}
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	plugin_id = identifier;
	int rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_TICK, on_tick, NULL, NULL);
	}
	if(rc == MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_INFO, "otaflow implicit subscription: devices receive their downlink system topics without subscribing; presence on " PRESENCE_TOPIC_PREFIX "{device}; event uplinks on " UPLINK_TOPIC_PREFIX "{device}");
	}
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_TICK, on_tick, NULL);
	pending = NULL;
	for(unsigned i = 0; i < BUCKETS; i++){
		while(buckets[i]){
			struct connection *gone = buckets[i];
			buckets[i] = gone->next;
			mosquitto_free(gone);
		}
	}
	return MOSQ_ERR_SUCCESS;
}

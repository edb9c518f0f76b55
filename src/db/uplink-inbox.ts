import type { RecordedUplink, UplinkInbox } from '../devices/uplink-inbox';
import type { Database } from './database';

/**
 * How long a handled uplink is kept: a redelivery comes when the gateway that recorded it is back,
 * usually within seconds; one back after longer than this would record its redelivery anew.
 */
export const HANDLED_UPLINK_RETENTION_HOURS = 24;

interface Row {
  id: string;
  device_id: string;
  payload: Buffer;
  received_at: Date;
}

/** One gateway's uplinks in `uplink_inbox`, under its `OTAFLOW_GATEWAY_ID`. */
export function createDatabaseUplinkInbox(db: Database, gatewayId: string): UplinkInbox {
  return {
    async record(uplink, packetId) {
      const { rows } = await db.query<{ id: string }>(
        `insert into uplink_inbox (gateway_id, received_by, packet_id, device_id, payload, received_at)
         values ($1, $1, $2, $3, $4, $5)
         returning id::text`,
        [gatewayId, packetId ?? null, uplink.deviceId, uplink.payload, uplink.receivedAt],
      );
      return rows[0]?.id as string;
    },
    async recordedBefore(uplink, packetId) {
      // Rare (redeliveries only) and bounded by the retention: no index of its own.
      const { rows } = await db.query(
        `select 1 from uplink_inbox
         where received_by = $1 and packet_id = $2 and device_id = $3 and payload = $4
           and received_at > now() - make_interval(hours => $5)
         limit 1`,
        [gatewayId, packetId, uplink.deviceId, uplink.payload, HANDLED_UPLINK_RETENTION_HOURS],
      );
      return rows.length > 0;
    },
    async markHandled(id) {
      await db.query('update uplink_inbox set handled_at = now() where id = $1', [id]);
    },
    async unfinished() {
      const { rows } = await db.query<Row>(
        `select id::text, device_id, payload, received_at from uplink_inbox
         where gateway_id = $1 and handled_at is null order by id`,
        [gatewayId],
      );
      return rows.map(recordedUplink);
    },
    async heartbeat() {
      await db.query(
        `insert into gateway_heartbeats (gateway_id, seen_at) values ($1, now())
         on conflict (gateway_id) do update set seen_at = now()`,
        [gatewayId],
      );
      await db.query('delete from uplink_inbox where handled_at < now() - make_interval(hours => $1)', [
        HANDLED_UPLINK_RETENTION_HOURS,
      ]);
    },
    async adoptFromSilentGateways(silentForMs) {
      // A gateway that never beat (recorded before heartbeats existed) counts as silent too.
      const { rows } = await db.query<Row>(
        `update uplink_inbox set gateway_id = $1
         where handled_at is null and gateway_id <> $1 and gateway_id not in (
           select gateway_id from gateway_heartbeats where seen_at > now() - make_interval(secs => $2)
         )
         returning id::text, device_id, payload, received_at`,
        [gatewayId, silentForMs / 1000],
      );
      return rows.map(recordedUplink).sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)));
    },
  };
}

function recordedUplink(row: Row): RecordedUplink {
  return {
    id: row.id,
    deviceId: row.device_id,
    payload: Buffer.from(row.payload),
    receivedAt: row.received_at,
  };
}

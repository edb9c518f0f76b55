import type { RecordedUplink, UplinkInbox } from '../devices/uplink-inbox';
import type { Database } from './database';

interface Row {
  id: string;
  device_id: string;
  payload: Buffer;
  received_at: Date;
}

/** One gateway's uplinks in `uplink_inbox`, under its `OTAFLOW_GATEWAY_ID`. */
export function createDatabaseUplinkInbox(db: Database, gatewayId: string): UplinkInbox {
  return {
    async record(uplink) {
      const { rows } = await db.query<{ id: string }>(
        `insert into uplink_inbox (gateway_id, device_id, payload, received_at) values ($1, $2, $3, $4)
         returning id::text`,
        [gatewayId, uplink.deviceId, uplink.payload, uplink.receivedAt],
      );
      return rows[0]?.id as string;
    },
    async forget(id) {
      await db.query('delete from uplink_inbox where id = $1', [id]);
    },
    async unfinished() {
      const { rows } = await db.query<Row>(
        `select id::text, device_id, payload, received_at from uplink_inbox where gateway_id = $1 order by id`,
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
    },
    async adoptFromSilentGateways(silentForMs) {
      // A gateway that never beat (recorded before heartbeats existed) counts as silent too.
      const { rows } = await db.query<Row>(
        `update uplink_inbox set gateway_id = $1
         where gateway_id <> $1 and gateway_id not in (
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

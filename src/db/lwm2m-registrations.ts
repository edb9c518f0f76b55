import type { KeptRegistration, Lwm2mGatewayRegistry, RegistrationDetails } from '../devices/lwm2m-registry';
import type { Database } from './database';
import { findDevice, setPresence } from './devices';

/** The LwM2M gateway's view of the registry: provisioned endpoints, presence, registrations. */
export function createLwm2mGatewayRegistry(db: Database): Lwm2mGatewayRegistry {
  return {
    async lwm2mDevice(deviceId) {
      const device = await findDevice(db, deviceId);
      if (device?.protocol !== 'lwm2m' || device.disabledAt !== null) return undefined;
      return { pskIdentity: device.pskIdentity };
    },
    setPresence: (deviceId, online, at) => setPresence(db, deviceId, online, at),
    async recordRegistration(deviceId, location, details) {
      await db.query(
        `insert into lwm2m_registrations
           (device_id, gateway_id, registration_id, address, port, queue_mode, lifetime_seconds, details, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, now())
         on conflict (device_id) do update set
           gateway_id = excluded.gateway_id, registration_id = excluded.registration_id,
           address = excluded.address, port = excluded.port, queue_mode = excluded.queue_mode,
           lifetime_seconds = excluded.lifetime_seconds, details = excluded.details, updated_at = now()`,
        [
          deviceId,
          location.gatewayId,
          location.registrationId,
          location.address,
          location.port,
          location.queueMode,
          location.lifetimeSeconds,
          JSON.stringify(details),
        ],
      );
    },
    async keptRegistrations(gatewayId) {
      const { rows } = await db.query<KeptRow>(
        `select device_id, gateway_id, registration_id, address, port, queue_mode, lifetime_seconds,
           updated_at, details
         from lwm2m_registrations where gateway_id = $1 order by device_id`,
        [gatewayId],
      );
      return rows.map(
        (row): KeptRegistration => ({
          deviceId: row.device_id,
          gatewayId: row.gateway_id,
          registrationId: row.registration_id,
          address: row.address,
          port: row.port,
          queueMode: row.queue_mode,
          lifetimeSeconds: row.lifetime_seconds,
          updatedAt: new Date(row.updated_at),
          ...(row.details && { details: row.details }),
        }),
      );
    },
    async clearRegistration(deviceId, registrationId) {
      const { rows } = await db.query(
        'delete from lwm2m_registrations where device_id = $1 and registration_id = $2 returning device_id',
        [deviceId, registrationId],
      );
      return rows.length > 0;
    },
    async observedPaths(deviceId) {
      const { rows } = await db.query<{ path: string }>(
        'select path from lwm2m_observations where device_id = $1 order by path',
        [deviceId],
      );
      return rows.map((row) => row.path);
    },
    async recordObservations(deviceId, paths) {
      await db.query(
        `insert into lwm2m_observations (device_id, path) select $1, unnest($2::text[])
         on conflict do nothing`,
        [deviceId, paths],
      );
    },
    async forgetObservations(deviceId, paths) {
      await db.query('delete from lwm2m_observations where device_id = $1 and path = any($2::text[])', [
        deviceId,
        paths,
      ]);
    },
  };
}

/** The gateway holding the device's live registration, if any. */
export async function findLwm2mGateway(
  db: Pick<Database, 'query'>,
  deviceId: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ gateway_id: string }>(
    'select gateway_id from lwm2m_registrations where device_id = $1',
    [deviceId],
  );
  return rows[0]?.gateway_id;
}

interface KeptRow {
  device_id: string;
  gateway_id: string;
  registration_id: string;
  address: string;
  port: number;
  queue_mode: boolean;
  lifetime_seconds: number;
  updated_at: Date | string;
  details: RegistrationDetails | null;
}

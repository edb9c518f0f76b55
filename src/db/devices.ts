import type { VersionReport } from '../../workflows/definitions';
import type { Database } from './database';
import { type Page, type PageRequest, toPage } from './paging';

type Queryable = Pick<Database, 'query'>;

export type DeviceProtocol = 'mqtt' | 'lwm2m';

export interface Device {
  id: string;
  protocol: DeviceProtocol;
  product: string;
  model: string;
  online: boolean;
  lastSeenAt: Date | null;
  softwareVersion: string | null;
  firmwareVersion: string | null;
  createdAt: Date;
}

export interface NewDevice {
  id: string;
  protocol: DeviceProtocol;
  product: string;
  model: string;
  secretCiphertext: string;
}

interface DeviceRow {
  id: string;
  protocol: DeviceProtocol;
  product: string;
  model: string;
  online: boolean;
  last_seen_at: Date | null;
  software_version: string | null;
  firmware_version: string | null;
  created_at: Date;
}

const deviceColumns =
  'id, protocol, product, model, online, last_seen_at, software_version, firmware_version, created_at';

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    protocol: row.protocol,
    product: row.product,
    model: row.model,
    online: row.online,
    lastSeenAt: row.last_seen_at,
    softwareVersion: row.software_version,
    firmwareVersion: row.firmware_version,
    createdAt: row.created_at,
  };
}

/** Undefined when a device with that ID exists already. */
export async function insertDevice(db: Queryable, device: NewDevice): Promise<Device | undefined> {
  const { rows } = await db.query<DeviceRow>(
    `insert into devices (id, protocol, product, model, secret_ciphertext) values ($1, $2, $3, $4, $5)
     on conflict (id) do nothing returning ${deviceColumns}`,
    [device.id, device.protocol, device.product, device.model, device.secretCiphertext],
  );
  return rows[0] && toDevice(rows[0]);
}

export async function findDevice(db: Queryable, id: string): Promise<Device | undefined> {
  const { rows } = await db.query<DeviceRow>(`select ${deviceColumns} from devices where id = $1`, [id]);
  return rows[0] && toDevice(rows[0]);
}

export async function findDevices(db: Queryable, ids: string[]): Promise<Device[]> {
  const { rows } = await db.query<DeviceRow>(
    `select ${deviceColumns} from devices where id = any($1::text[])`,
    [ids],
  );
  return rows.map(toDevice);
}

export async function listDevices(db: Queryable, page: PageRequest): Promise<Page<Device>> {
  const { rows } = await db.query<DeviceRow>(
    `select ${deviceColumns} from devices where $1::text is null or id > $1 order by id limit $2`,
    [page.cursor ?? null, page.limit + 1],
  );
  return toPage(rows.map(toDevice), page.limit, (device) => device.id);
}

export async function findSecretCiphertext(db: Queryable, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ secret_ciphertext: string }>(
    'select secret_ciphertext from devices where id = $1',
    [id],
  );
  return rows[0]?.secret_ciphertext;
}

export async function setPresence(db: Queryable, id: string, online: boolean, at: Date): Promise<void> {
  await db.query('update devices set online = $2, last_seen_at = $3 where id = $1', [id, online, at]);
}

/** A report names the versions it carries; the others keep their last known value. */
export async function recordVersions(
  db: Queryable,
  id: string,
  report: VersionReport,
  at: Date,
): Promise<void> {
  await db.query(
    `update devices set software_version = coalesce($2, software_version),
       firmware_version = coalesce($3, firmware_version), last_seen_at = greatest(last_seen_at, $4)
     where id = $1`,
    [id, report.softwareVersion ?? null, report.firmwareVersion ?? null, at],
  );
}

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
  tags: string[];
  /** Set while the device is disabled: it may not log in, register or be upgraded. */
  disabledAt: Date | null;
  /** The LwM2M device's DTLS PSK identity; null: it registers over plain CoAP. */
  pskIdentity: string | null;
  createdAt: Date;
}

export interface NewDevice {
  id: string;
  protocol: DeviceProtocol;
  product: string;
  model: string;
  secretCiphertext: string;
  tags?: string[];
  /** An LwM2M device that registers over DTLS with this pre-shared key. */
  psk?: { identity: string; keyCiphertext: string };
}

/** What GET /v1/devices filters by; every given criterion must hold. */
export interface DeviceListFilter {
  protocol?: DeviceProtocol;
  product?: string;
  model?: string;
  tag?: string;
  /** The software or the firmware version. */
  version?: string;
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
  tags: string[];
  disabled_at: Date | null;
  psk_identity: string | null;
  created_at: Date;
}

const deviceColumns =
  'id, protocol, product, model, online, last_seen_at, software_version, firmware_version, tags, disabled_at, psk_identity, created_at';

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
    tags: row.tags,
    disabledAt: row.disabled_at,
    pskIdentity: row.psk_identity,
    createdAt: row.created_at,
  };
}

/** Undefined when a device with that ID exists already. */
export async function insertDevice(db: Queryable, device: NewDevice): Promise<Device | undefined> {
  return (await insertDevices(db, [device]))?.[0];
}

/**
 * Inserts every device or none: undefined (and nothing inserted, when `db` is a transaction the caller
 * rolls back) when any ID exists already. One statement, however many devices. A PSK identity taken
 * already throws `PskIdentityTaken`.
 */
export async function insertDevices(db: Queryable, devices: NewDevice[]): Promise<Device[] | undefined> {
  let rows: DeviceRow[];
  try {
    ({ rows } = await db.query<DeviceRow>(
      `insert into devices (id, protocol, product, model, secret_ciphertext, tags, psk_identity, psk_key_ciphertext)
       select d.id, d.protocol, d.product, d.model, d.secret_ciphertext,
              array(select jsonb_array_elements_text(d.tags)), d.psk_identity, d.psk_key_ciphertext
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[])
           as d (id, protocol, product, model, secret_ciphertext, tags, psk_identity, psk_key_ciphertext)
       on conflict (id) do nothing returning ${deviceColumns}`,
      [
        devices.map((device) => device.id),
        devices.map((device) => device.protocol),
        devices.map((device) => device.product),
        devices.map((device) => device.model),
        devices.map((device) => device.secretCiphertext),
        devices.map((device) => JSON.stringify(device.tags ?? [])),
        devices.map((device) => device.psk?.identity ?? null),
        devices.map((device) => device.psk?.keyCiphertext ?? null),
      ],
    ));
  } catch (error) {
    const violated = (error as { constraint?: string }).constraint;
    if (violated === 'devices_psk_identity_key') throw new PskIdentityTaken((error as Error).message);
    throw error;
  }
  if (rows.length < devices.length) return undefined;
  const byId = new Map(rows.map((row) => [row.id, toDevice(row)]));
  return devices.map((device) => byId.get(device.id) as Device);
}

export class PskIdentityTaken extends Error {
  override name = 'PskIdentityTaken';
}

/** The sealed pre-shared key of an enabled device with this PSK identity. */
export async function findPskKeyCiphertext(db: Queryable, identity: string): Promise<string | undefined> {
  const { rows } = await db.query<{ psk_key_ciphertext: string }>(
    'select psk_key_ciphertext from devices where psk_identity = $1 and disabled_at is null',
    [identity],
  );
  return rows[0]?.psk_key_ciphertext;
}

/** Undefined when no such device exists. */
export async function setDeviceTags(db: Queryable, id: string, tags: string[]): Promise<Device | undefined> {
  const { rows } = await db.query<DeviceRow>(
    `update devices set tags = $2 where id = $1 returning ${deviceColumns}`,
    [id, tags],
  );
  return rows[0] && toDevice(rows[0]);
}

/** The device with its new secret (sealed); undefined when no such device exists. */
export async function setDeviceSecret(
  db: Queryable,
  id: string,
  secretCiphertext: string,
): Promise<Device | undefined> {
  const { rows } = await db.query<DeviceRow>(
    `update devices set secret_ciphertext = $2 where id = $1 returning ${deviceColumns}`,
    [id, secretCiphertext],
  );
  return rows[0] && toDevice(rows[0]);
}

/**
 * Sets an LwM2M device's PSK identity and sealed key; undefined: no such LwM2M device. A PSK identity
 * taken by another device throws `PskIdentityTaken`.
 */
export async function setDevicePsk(
  db: Queryable,
  id: string,
  psk: { identity: string; keyCiphertext: string },
): Promise<Device | undefined> {
  try {
    const { rows } = await db.query<DeviceRow>(
      `update devices set psk_identity = $2, psk_key_ciphertext = $3 where id = $1 and protocol = 'lwm2m'
       returning ${deviceColumns}`,
      [id, psk.identity, psk.keyCiphertext],
    );
    return rows[0] && toDevice(rows[0]);
  } catch (error) {
    if ((error as { constraint?: string }).constraint === 'devices_psk_identity_key') {
      throw new PskIdentityTaken((error as Error).message);
    }
    throw error;
  }
}

/** Disables the device (keeping an earlier disabling's time) or enables it; undefined: no such device. */
export async function setDeviceDisabled(
  db: Queryable,
  id: string,
  disabled: boolean,
): Promise<Device | undefined> {
  const { rows } = await db.query<DeviceRow>(
    `update devices set disabled_at = case when $2 then coalesce(disabled_at, now()) end where id = $1
     returning ${deviceColumns}`,
    [id, disabled],
  );
  return rows[0] && toDevice(rows[0]);
}

export type DeviceDeletion = 'deleted' | 'not found' | 'enabled' | { unfinishedTasks: string[] };

/**
 * Deletes a disabled device that no task is still upgrading: its secret, registration and group
 * memberships go with it; the rows of finished tasks keep its ID.
 */
export async function deleteDevice(db: Database, id: string): Promise<DeviceDeletion> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ disabled_at: Date | null }>(
      'select disabled_at from devices where id = $1 for update',
      [id],
    );
    const device = rows[0];
    if (!device) return 'not found';
    if (device.disabled_at === null) return 'enabled';
    const unfinished = await tx.query<{ task_id: string }>(
      'select distinct task_id from task_devices where device_id = $1 and finished_at is null order by task_id',
      [id],
    );
    if (unfinished.rows.length > 0) return { unfinishedTasks: unfinished.rows.map((row) => row.task_id) };
    await tx.query('delete from devices where id = $1', [id]);
    return 'deleted';
  });
}

/** Every download token issued to the device until now is refused from now on; false: no such device. */
export async function revokeDeviceTokens(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query('update devices set tokens_revoked_at = now() where id = $1 returning id', [
    id,
  ]);
  return rows.length > 0;
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

export function listDevices(
  db: Queryable,
  page: PageRequest,
  filter: DeviceListFilter = {},
): Promise<Page<Device>> {
  return listDevicesWhere(
    db,
    `($3::text is null or protocol = $3)
      and ($4::text is null or product = $4)
      and ($5::text is null or model = $5)
      and ($6::text is null or tags @> array[$6::text])
      and ($7::text is null or software_version = $7 or firmware_version = $7)`,
    [
      filter.protocol ?? null,
      filter.product ?? null,
      filter.model ?? null,
      filter.tag ?? null,
      filter.version ?? null,
    ],
    page,
  );
}

/** One page, in ID order, of the devices matching `condition`: SQL over `devices`, its parameters from `$3`. */
export async function listDevicesWhere(
  db: Queryable,
  condition: string,
  params: unknown[],
  page: PageRequest,
): Promise<Page<Device>> {
  const { rows } = await db.query<DeviceRow>(
    `select ${deviceColumns} from devices where ($1::text is null or id > $1) and (${condition})
      order by id limit $2`,
    [page.cursor ?? null, page.limit + 1, ...params],
  );
  return toPage(rows.map(toDevice), page.limit, (device) => device.id);
}

/** The sealed secret of a device that may log in: undefined for an unknown or disabled one. */
export async function findSecretCiphertext(db: Queryable, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ secret_ciphertext: string }>(
    'select secret_ciphertext from devices where id = $1 and disabled_at is null',
    [id],
  );
  return rows[0]?.secret_ciphertext;
}

/**
 * The broker saw the device connect (`online`) or disconnect at `at`. A change older than the last one
 * recorded changes nothing: gateways on a shared subscription, or one resuming its session after a
 * restart, may record a device's changes out of order.
 */
export async function setPresence(db: Queryable, id: string, online: boolean, at: Date): Promise<void> {
  await db.query(
    `update devices set online = $2, presence_at = $3, last_seen_at = greatest(last_seen_at, $3)
      where id = $1 and (presence_at is null or presence_at <= $3)`,
    [id, online, at],
  );
}

/**
 * An uplink reaches a gateway within this long of being sent (the broker's queue and the gateway's
 * backlog included), so one handled later than this after a recorded disconnection was sent after it.
 */
export const UPLINK_DELIVERY_BOUND_MS = 60_000;

/**
 * The device was heard from at `at`. A device whose connections the broker reports on
 * (`presence_at` set) is online by those: one that sends its result and disconnects at once has its
 * disconnection recorded before its uplink is handled, and must stay offline. Its uplink shows it
 * online only when the broker reports no presence, or the recorded disconnection is older than any
 * uplink in transit (it came back while no gateway heard its connect). Whether this made it online
 * (the join reads the row as it was); undefined for an unknown device.
 */
export async function markSeen(
  db: Queryable,
  id: string,
  at: Date,
): Promise<{ cameOnline: boolean } | undefined> {
  const { rows } = await db.query<{ came_online: boolean }>(
    `update devices d set
       online = before.online or before.presence_at is null or before.presence_at < $3,
       last_seen_at = greatest(before.last_seen_at, $2)
     from devices before
     where d.id = $1 and before.id = $1
     returning d.online and not before.online as came_online`,
    [id, at, new Date(at.getTime() - UPLINK_DELIVERY_BOUND_MS)],
  );
  return rows[0] && { cameOnline: rows[0].came_online };
}

/**
 * After a successful upgrade the device runs the package's version, of the package's kind: one
 * statement, the kind read in it (a result is recorded for every device of a rollout).
 */
export async function recordInstalledVersion(
  db: Queryable,
  id: string,
  packageId: string,
  version: string,
  at: Date,
): Promise<void> {
  await db.query(
    `update devices d set
       software_version = case when p.kind = 'software' then $3 else d.software_version end,
       firmware_version = case when p.kind = 'firmware' then $3 else d.firmware_version end,
       last_seen_at = greatest(d.last_seen_at, $4)
     from packages p where d.id = $1 and p.id = $2`,
    [id, packageId, version, at],
  );
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

export interface VersionCount {
  product: string;
  model: string;
  kind: 'firmware' | 'software';
  /** Null: the device has not reported this version yet. */
  version: string | null;
  count: number;
}

/** How many devices of each product and model run each firmware and software version. */
export async function countDeviceVersions(db: Queryable, limit: number): Promise<VersionCount[]> {
  const { rows } = await db.query<Omit<VersionCount, 'count'> & { count: number | string }>(
    `select product, model, kind, version, count(*) as count from (
       select product, model, 'firmware' as kind, firmware_version as version from devices
       union all
       select product, model, 'software' as kind, software_version as version from devices
     ) reported
     group by product, model, kind, version
     order by product, model, kind, count(*) desc, version
     limit $1`,
    [limit],
  );
  return rows.map((row) => ({ ...row, count: Number(row.count) }));
}

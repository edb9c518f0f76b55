import type { Database } from './database';
import { type Device, listDevicesWhere } from './devices';
import { type Page, type PageRequest, toPage } from './paging';

type Queryable = Pick<Database, 'query'>;

export interface DeviceGroup {
  id: string;
  name: string;
  description: string | null;
  deviceCount: number;
  createdAt: Date;
}

interface GroupRow {
  id: string;
  name: string;
  description: string | null;
  device_count: number;
  created_at: Date;
}

const groupColumns = `g.id, g.name, g.description, g.created_at,
  (select count(*)::int from device_group_members m where m.group_id = g.id) as device_count`;

function toGroup(row: GroupRow): DeviceGroup {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    deviceCount: Number(row.device_count),
    createdAt: row.created_at,
  };
}

/** Undefined when a group with that name exists already. */
export async function insertGroup(
  db: Queryable,
  group: { id: string; name: string; description?: string },
): Promise<DeviceGroup | undefined> {
  const { rows } = await db.query<GroupRow>(
    `insert into device_groups (id, name, description) values ($1, $2, $3)
     on conflict (name) do nothing returning id, name, description, created_at, 0 as device_count`,
    [group.id, group.name, group.description ?? null],
  );
  return rows[0] && toGroup(rows[0]);
}

export async function findGroup(db: Queryable, id: string): Promise<DeviceGroup | undefined> {
  const { rows } = await db.query<GroupRow>(`select ${groupColumns} from device_groups g where g.id = $1`, [
    id,
  ]);
  return rows[0] && toGroup(rows[0]);
}

export async function listGroups(db: Queryable, page: PageRequest): Promise<Page<DeviceGroup>> {
  const { rows } = await db.query<GroupRow>(
    `select ${groupColumns} from device_groups g where $1::text is null or g.id > $1 order by g.id limit $2`,
    [page.cursor ?? null, page.limit + 1],
  );
  return toPage(rows.map(toGroup), page.limit, (group) => group.id);
}

/** False when no such group exists. Its memberships go with it; the devices stay. */
export async function deleteGroup(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query('delete from device_groups where id = $1 returning id', [id]);
  return rows.length > 0;
}

/** Adds the devices (all known to exist); ones already in the group stay as they were. */
export async function addGroupMembers(db: Queryable, groupId: string, deviceIds: string[]): Promise<void> {
  await db.query(
    `insert into device_group_members (group_id, device_id) select $1, unnest($2::text[])
     on conflict (group_id, device_id) do nothing`,
    [groupId, deviceIds],
  );
}

/** False when the device was not in the group. */
export async function removeGroupMember(db: Queryable, groupId: string, deviceId: string): Promise<boolean> {
  const { rows } = await db.query(
    'delete from device_group_members where group_id = $1 and device_id = $2 returning device_id',
    [groupId, deviceId],
  );
  return rows.length > 0;
}

export function listGroupDevices(db: Queryable, groupId: string, page: PageRequest): Promise<Page<Device>> {
  return listDevicesWhere(
    db,
    'exists (select 1 from device_group_members m where m.group_id = $3 and m.device_id = devices.id)',
    [groupId],
    page,
  );
}

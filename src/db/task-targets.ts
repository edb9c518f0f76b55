import type { Database } from './database';

type Queryable = Pick<Database, 'query'>;

/**
 * A task's targets are its `task_devices` rows, inserted in start order (`seq`) by one INSERT … SELECT
 * each time: 100,000 devices are one statement, not 100,000 round trips.
 */
export const maxTaskDevices = 100_000;

/** A listed device that cannot take the task's package: unknown (product null), or of another model. */
export interface UnfitDevice {
  /** Its position in the list. */
  index: number;
  deviceId: string;
  product: string | null;
  model: string | null;
}

/** The first `limit` unfit devices of a list, in list order, and how many there are in all. */
export async function findUnfitListedDevices(
  db: Queryable,
  packageId: string,
  deviceIds: string[],
  limit: number,
): Promise<{ unfit: UnfitDevice[]; total: number }> {
  const { rows } = await db.query<{
    n: number | string;
    device_id: string;
    product: string | null;
    model: string | null;
    total: number | string;
  }>(
    `select l.n, l.device_id, d.product, d.model, count(*) over () as total
     from unnest($2::text[]) with ordinality as l (device_id, n)
     cross join (select product, model from packages where id = $1) p
     left join devices d on d.id = l.device_id
     where d.id is null or d.product <> p.product or d.model <> p.model
     order by l.n limit $3`,
    [packageId, deviceIds, limit],
  );
  return {
    unfit: rows.map((row) => ({
      index: Number(row.n) - 1,
      deviceId: row.device_id,
      product: row.product,
      model: row.model,
    })),
    total: Number(rows[0]?.total ?? 0),
  };
}

/** Adds `added` to the task's device count in the statement that inserts them; answers `added`. */
const countAdded = `update tasks set device_count = device_count + (select count(*) from added) where id = $1
  returning (select count(*) from added) as added`;

async function insertCounted(db: Queryable, insert: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query<{ added: number | string }>(
    `with added as (${insert} returning 1) ${countAdded}`,
    params,
  );
  return Number(rows[0]?.added ?? 0);
}

/** A device list's rows, in list order; check it with `findUnfitListedDevices` first. */
export function insertListedTaskDevices(db: Queryable, taskId: string, deviceIds: string[]): Promise<number> {
  return insertCounted(
    db,
    `insert into task_devices (task_id, device_id, step, to_version)
     select $1, l.device_id, 'pending', p.version
     from unnest($2::text[]) with ordinality as l (device_id, n)
     cross join (select p.version from tasks t join packages p on p.id = t.package_id where t.id = $1) p
     order by l.n`,
    [taskId, deviceIds],
  );
}

/**
 * Devices of the package's product and model that the task's stored group or filter target matches
 * and that are not in the task yet, in device ID order, at most `$2` of them. A filter's
 * `currentVersion` is the software or firmware version, by the package's kind. Tasks that have ended
 * (or are being cancelled) take no more devices.
 */
const insertMatching = `insert into task_devices (task_id, device_id, step, to_version)
  select t.id, d.id, 'pending', p.version
  from tasks t
  join packages p on p.id = t.package_id
  join devices d on d.product = p.product and d.model = p.model
  where t.id = $1 and t.state in ('scheduled', 'running', 'paused')
    and case
      when t.target ? 'groupId' then exists (
        select 1 from device_group_members m where m.group_id = t.target ->> 'groupId' and m.device_id = d.id)
      when t.target ? 'filter' then
        coalesce(d.protocol = t.target #>> '{filter,protocol}', true)
        and coalesce(
          case p.kind when 'firmware' then d.firmware_version else d.software_version end
            = t.target #>> '{filter,currentVersion}',
          t.target #>> '{filter,currentVersion}' is null)
        and d.tags @> array(select jsonb_array_elements_text(t.target #> '{filter,tags}'))
      else false
    end
    and not exists (select 1 from task_devices td where td.task_id = t.id and td.device_id = d.id)
  order by d.id
  limit $2
  on conflict do nothing`;

/**
 * Resolves a new group or filter task's targets. One more than `maxTaskDevices` at most: the caller
 * refuses a task with that many.
 */
export function insertResolvedTaskDevices(db: Queryable, taskId: string): Promise<number> {
  return insertCounted(db, insertMatching, [taskId, maxTaskDevices + 1]);
}

/**
 * For continuous tasks: adds the devices that match the task's stored target but are not in it yet
 * (provisioned, added to the group or tagged since), up to `maxTaskDevices` in the task; answers how
 * many were added. A device-list task has nothing to add.
 */
export async function insertMatchingTaskDevices(db: Queryable, taskId: string): Promise<number> {
  const { rows } = await db.query<{ device_count: number }>('select device_count from tasks where id = $1', [
    taskId,
  ]);
  const room = maxTaskDevices - Number(rows[0]?.device_count ?? maxTaskDevices);
  return room > 0 ? insertCounted(db, insertMatching, [taskId, room]) : 0;
}

export async function groupExists(db: Queryable, groupId: string): Promise<boolean> {
  const { rows } = await db.query('select 1 from device_groups where id = $1', [groupId]);
  return rows.length > 0;
}

import type { Database } from './database';

interface Migration {
  id: number;
  name: string;
  /** One statement per entry: PGlite's parameterised query runs a single statement. */
  statements: string[];
}

/** Append only: an applied migration is never edited, a change is a new migration. */
export const migrations: readonly Migration[] = [
  {
    id: 1,
    name: 'devices, packages, tasks',
    statements: [
      `create table devices (
        id text primary key,
        protocol text not null check (protocol in ('mqtt', 'lwm2m')),
        product text not null,
        model text not null,
        secret_ciphertext text not null,
        online boolean not null default false,
        last_seen_at timestamptz,
        software_version text,
        firmware_version text,
        created_at timestamptz not null default now()
      )`,
      `create table packages (
        id text primary key,
        name text not null,
        version text not null,
        kind text not null check (kind in ('software', 'firmware')),
        product text not null,
        model text not null,
        supported_source_versions text[] not null default '{}',
        file_name text not null,
        size bigint not null,
        sha256 text not null,
        object_key text not null,
        created_at timestamptz not null default now(),
        unique (product, model, kind, version)
      )`,
      `create table tasks (
        id text primary key,
        package_id text not null references packages (id),
        state text not null check (state in ('running', 'completed', 'cancelling', 'cancelled')),
        callback_url text,
        device_count integer not null,
        created_at timestamptz not null default now(),
        finished_at timestamptz
      )`,
      `create table task_devices (
        task_id text not null references tasks (id) on delete cascade,
        device_id text not null references devices (id),
        step text not null,
        outcome text,
        failure_cause text,
        failure_detail text,
        progress integer,
        progress_description text,
        from_version text,
        to_version text not null,
        started_at timestamptz,
        updated_at timestamptz not null default now(),
        finished_at timestamptz,
        primary key (task_id, device_id)
      )`,
      // Gateways report progress by device alone: find its unfinished upgrade without scanning.
      'create index task_devices_in_flight on task_devices (device_id) where finished_at is null',
    ],
  },
  {
    id: 2,
    name: 'lwm2m registrations',
    statements: [
      // Where each LwM2M device is registered: its gateway (whose task queue carries its commands) and
      // the address the gateway reaches it at.
      `create table lwm2m_registrations (
        device_id text primary key references devices (id) on delete cascade,
        gateway_id text not null,
        registration_id text not null,
        address text not null,
        port integer not null,
        queue_mode boolean not null,
        lifetime_seconds integer not null,
        updated_at timestamptz not null default now()
      )`,
    ],
  },
];

/**
 * Applies the migrations not yet recorded in `schema_migrations`, all in one transaction. An advisory
 * lock serialises processes that open the same PostgreSQL database at once.
 */
export async function migrate(database: Database): Promise<void> {
  await database.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock(7412001)');
    await tx.query(
      `create table if not exists schema_migrations (
        id integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`,
    );
    const applied = await tx.query<{ id: number }>('select id from schema_migrations');
    const appliedIds = new Set(applied.rows.map((row) => Number(row.id)));
    for (const migration of migrations) {
      if (appliedIds.has(migration.id)) continue;
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query('insert into schema_migrations (id, name) values ($1, $2)', [
        migration.id,
        migration.name,
      ]);
    }
  });
}

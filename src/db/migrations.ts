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
  {
    id: 3,
    name: 'fleet-scale tasks: targets, rollout policy, retries, groups, tags, API keys, idempotency, webhooks',
    statements: [
      `alter table devices add column tags text[] not null default '{}'`,
      `create table device_groups (
        id text primary key,
        name text not null unique,
        description text,
        created_at timestamptz not null default now()
      )`,
      `create table device_group_members (
        group_id text not null references device_groups (id) on delete cascade,
        device_id text not null references devices (id) on delete cascade,
        added_at timestamptz not null default now(),
        primary key (group_id, device_id)
      )`,
      'create index device_group_members_device on device_group_members (device_id)',
      // A task's targets as the user gave them (device list, group or filter), snapshot or continuous,
      // and its rollout policy; `rollout` is null for tasks created before rollout control (none since 0.1.0).
      'alter table tasks drop constraint tasks_state_check',
      `alter table tasks add constraint tasks_state_check check (state in
        ('scheduled', 'running', 'paused', 'cancelling', 'cancelled', 'aborted', 'completed'))`,
      'alter table tasks add column target jsonb',
      `alter table tasks add column mode text not null default 'snapshot' check (mode in ('snapshot', 'continuous'))`,
      'alter table tasks add column rollout jsonb',
      'alter table tasks add column state_reason text',
      // Start order for the task workflow's cursor: devices a continuous task picks up later come last.
      'alter table task_devices add column seq bigserial',
      'create index task_devices_order on task_devices (task_id, seq)',
      // Attempts started; the run that reported the latest result (a retried report is recognised);
      // when a failed attempt worth retrying is due again.
      'alter table task_devices add column attempts integer not null default 0',
      'alter table task_devices add column result_run_id text',
      'alter table task_devices add column retry_at timestamptz',
      `create table api_keys (
        id text primary key,
        name text not null,
        key_hash text not null unique,
        scopes text[] not null,
        created_at timestamptz not null default now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`,
      // The response of a create, replayed for a repeated Idempotency-Key from the same API key.
      `create table idempotency_keys (
        api_key_id text not null,
        key text not null,
        method text not null,
        path text not null,
        request_hash text not null,
        status integer not null,
        response jsonb not null,
        created_at timestamptz not null default now(),
        primary key (api_key_id, key)
      )`,
      `create table webhooks (
        id text primary key,
        url text not null,
        secret_ciphertext text not null,
        events text[] not null,
        task_id text references tasks (id) on delete cascade,
        created_at timestamptz not null default now()
      )`,
      // The outbox: written in the transaction that records the event, delivered at least once.
      `create table webhook_deliveries (
        id bigserial primary key,
        webhook_id text not null references webhooks (id) on delete cascade,
        event_id text not null,
        event_type text not null,
        payload jsonb not null,
        attempts integer not null default 0,
        next_attempt_at timestamptz not null default now(),
        delivered_at timestamptz,
        last_status integer,
        last_error text,
        created_at timestamptz not null default now(),
        unique (webhook_id, event_id)
      )`,
      'create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where delivered_at is null',
    ],
  },
  {
    id: 4,
    name: 'API platform: idempotency keys in progress, failed webhook deliveries, device tag index',
    statements: [
      // A claimed key whose first request is still running has no answer yet: status and response null.
      'alter table idempotency_keys alter column status drop not null',
      'alter table idempotency_keys alter column response drop not null',
      // A delivery given up on (past its maximum age) is kept, failed, for GET /v1/webhooks/{id}/deliveries.
      'alter table webhook_deliveries add column failed_at timestamptz',
      'drop index webhook_deliveries_due',
      `create index webhook_deliveries_due on webhook_deliveries (next_attempt_at)
        where delivered_at is null and failed_at is null`,
      'create index webhook_deliveries_by_webhook on webhook_deliveries (webhook_id, id)',
      // Device lists and task filters select by tag (`tags @> array[...]`).
      'create index devices_tags on devices using gin (tags)',
    ],
  },
  {
    id: 5,
    name: 'task names',
    statements: ['alter table tasks add column name text'],
  },
  {
    id: 6,
    name: 'idempotency answers sealed',
    // Answers kept in clear (device secrets, API keys, webhook secrets among them) are dropped: their
    // keys may be used again, for a new request.
    statements: [`delete from idempotency_keys where response ? 'body'`],
  },
  {
    id: 7,
    name: 'uplink inbox',
    statements: [
      `create table uplink_inbox (
        id bigserial primary key,
        gateway_id text not null,
        device_id text not null,
        payload bytea not null,
        received_at timestamptz not null
      )`,
      'create index uplink_inbox_by_gateway on uplink_inbox (gateway_id, id)',
    ],
  },
  {
    id: 8,
    name: 'audit log',
    statements: [
      `create table audit_log (
        id bigserial primary key,
        at timestamptz not null default now(),
        api_key_id text not null,
        method text not null,
        path text not null,
        route text,
        status integer not null,
        location text,
        address text
      )`,
      'create index audit_log_by_key on audit_log (api_key_id, id)',
      // Append-only for everyone who writes through otaflow's database account, otaflow included.
      `create function audit_log_is_append_only() returns trigger language plpgsql as $$
        begin raise exception 'the audit log is append-only'; end $$`,
      `create trigger audit_log_no_change before update or delete on audit_log
        for each row execute function audit_log_is_append_only()`,
      `create trigger audit_log_no_truncate before truncate on audit_log
        for each statement execute function audit_log_is_append_only()`,
    ],
  },
  {
    id: 9,
    name: 'package signatures',
    statements: [
      'alter table packages add column signed_by text',
      'alter table packages add column signature text',
    ],
  },
  {
    id: 10,
    name: 'retired packages',
    statements: ['alter table packages add column retired_at timestamptz'],
  },
  {
    id: 11,
    name: 'disabled devices',
    statements: ['alter table devices add column disabled_at timestamptz'],
  },
  {
    id: 12,
    name: 'download token revocation',
    statements: [
      'alter table devices add column tokens_revoked_at timestamptz',
      'alter table packages add column tokens_revoked_at timestamptz',
    ],
  },
  {
    id: 13,
    name: 'deleted devices keep their task history',
    // A task's rows of a device keep its ID once the device is deleted: what happened stays on record.
    statements: ['alter table task_devices drop constraint task_devices_device_id_fkey'],
  },
  {
    id: 14,
    name: 'LwM2M pre-shared keys',
    // A device with a PSK identity registers only over DTLS, under that identity (docs/lwm2m.md).
    statements: [
      `alter table devices
         add column psk_identity text unique,
         add column psk_key_ciphertext text,
         add constraint devices_psk_identity_with_key check ((psk_identity is null) = (psk_key_ciphertext is null))`,
    ],
  },
  {
    id: 15,
    name: 'secret key check',
    // One row: a known text sealed under the key every process sharing the database must hold (src/db/secret-key-check.ts).
    statements: [
      `create table secret_key_check (
         only_row boolean primary key default true check (only_row),
         sealed text not null,
         created_at timestamptz not null default now()
       )`,
    ],
  },
  {
    id: 16,
    name: 'gateway heartbeats',
    // A gateway silent for long has its unhandled uplinks adopted by a live one (src/db/uplink-inbox.ts).
    statements: [
      `create table gateway_heartbeats (
         gateway_id text primary key,
         seen_at timestamptz not null
       )`,
    ],
  },
  {
    id: 17,
    name: 'uplink redelivery',
    // An uplink's MQTT identity (the gateway that received it, its packet ID), and handled uplinks kept
    // for a day, so that the broker's redelivery of one whose acknowledgement was lost is recognised
    // (src/db/uplink-inbox.ts).
    statements: [
      'alter table uplink_inbox add column received_by text, add column packet_id integer, add column handled_at timestamptz',
      'drop index uplink_inbox_by_gateway',
      'create index uplink_inbox_unhandled on uplink_inbox (gateway_id, id) where handled_at is null',
      'create index uplink_inbox_handled on uplink_inbox (handled_at) where handled_at is not null',
    ],
  },
  {
    id: 18,
    name: 'lwm2m registrations and observations kept',
    // A registration's details, so that a gateway restarted under its ID takes its registrations up
    // again; and what the platform observes on each device, so that the gateway a device registers
    // with next (another one, or this one restarted) observes it again (src/lwm2m/gateway.ts).
    statements: [
      'alter table lwm2m_registrations add column details jsonb',
      `create table lwm2m_observations (
         device_id text not null references devices (id) on delete cascade,
         path text not null,
         primary key (device_id, path)
       )`,
    ],
  },
  {
    id: 19,
    name: 'upgrade step times and trace context',
    // When the upgrade's current step began, for the time-in-step histograms (docs/observability.md);
    // with tracing on, the trace context of its latest step, so that the device's report, which
    // carries none, joins the upgrade's trace (src/tracing/spans.ts).
    statements: [
      'alter table task_devices add column step_started_at timestamptz, add column trace_context jsonb',
    ],
  },
  {
    id: 20,
    name: 'console sessions',
    // A browser signed in to the console with an API key (src/api/session.ts).
    statements: [
      `create table console_sessions (
         id_hash text primary key,
         key_hash text not null,
         csrf_token text not null,
         created_at timestamptz not null,
         expires_at timestamptz not null
       )`,
      'create index console_sessions_expiry on console_sessions (expires_at)',
    ],
  },
  {
    id: 21,
    name: 'presence time',
    // When the broker last saw the device connect or disconnect: presence changes apply in the order
    // they happened, however late a gateway records them, and a device the broker reports on is online
    // by its connections, not by its uplinks (src/db/devices.ts, setPresence and markSeen).
    statements: ['alter table devices add column presence_at timestamptz'],
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

/**
 * The LwM2M Registration interface's state (TS Core §6.2 / 1.1 §6.2.1–3): what a Register or Update
 * carries, and the live registrations with their lifetime timers. A registration whose lifetime
 * passes without an Update has expired: the device is offline.
 */
import { randomBytes } from 'node:crypto';
import { type Link, parseLinkFormat } from './content-formats/link-format';

export interface RegistrationParameters {
  endpoint: string;
  lifetimeSeconds: number;
  lwm2mVersion: string;
  binding: string;
  /** Queue mode: `Q` in the binding (1.0) or the `Q` parameter (1.1). */
  queueMode: boolean;
}

export interface Registration extends RegistrationParameters {
  id: string;
  /** The DTLS PSK identity of the session it was made in; null over plain CoAP. */
  pskIdentity: string | null;
  address: string;
  port: number;
  objectLinks: Link[];
  registeredAt: Date;
  lastUplinkAt: Date;
}

/**
 * What a gateway keeps of a registration beside its location (the registry's `details`), to take it
 * up again after a restart.
 */
export interface KeptRegistrationDetails {
  lwm2mVersion: string;
  binding: string;
  pskIdentity: string | null;
  objectLinks: Link[];
  registeredAt: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** TS Core: "If Lifetime Resource has no value, 86400" seconds. */
const DEFAULT_LIFETIME_SECONDS = 86_400;
/** Node timers overflow past ~24.8 days: a longer lifetime counts as that long. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const ENDPOINT_PATTERN = /^[^\s/?#]{1,128}$/;

function queryParameters(query: string): URLSearchParams {
  return new URLSearchParams(query.replace(/^\?/, ''));
}

function parseLifetime(value: string | null): Parsed<number | undefined> {
  if (value === null) return { ok: true, value: undefined };
  if (!/^\d{1,10}$/.test(value) || Number(value) < 1) {
    return { ok: false, error: `lt '${value}' is not a lifetime in whole seconds (1 or more)` };
  }
  return { ok: true, value: Number(value) };
}

function parseBinding(value: string | null): Parsed<string | undefined> {
  if (value === null) return { ok: true, value: undefined };
  if (!/^[UTSNQ]{1,5}$/.test(value))
    return { ok: false, error: `b '${value}' is not a binding mode (U, UQ, …)` };
  return { ok: true, value };
}

export function parseRegisterQuery(query: string): Parsed<RegistrationParameters> {
  const params = queryParameters(query);
  const endpoint = params.get('ep');
  if (endpoint === null || !ENDPOINT_PATTERN.test(endpoint)) {
    return {
      ok: false,
      error: endpoint === null ? 'ep (endpoint name) is missing' : `ep '${endpoint}' is not valid`,
    };
  }
  const lifetime = parseLifetime(params.get('lt'));
  if (!lifetime.ok) return lifetime;
  const binding = parseBinding(params.get('b'));
  if (!binding.ok) return binding;
  const lwm2mVersion = params.get('lwm2m') ?? '1.0';
  if (!/^1\.\d$/.test(lwm2mVersion))
    return { ok: false, error: `lwm2m '${lwm2mVersion}' is not a supported version (1.x)` };
  const bindingValue = binding.value ?? 'U';
  return {
    ok: true,
    value: {
      endpoint,
      lifetimeSeconds: lifetime.value ?? DEFAULT_LIFETIME_SECONDS,
      lwm2mVersion,
      binding: bindingValue.replace('Q', ''),
      queueMode: bindingValue.includes('Q') || params.has('Q'),
    },
  };
}

export type RegistrationChanges = Partial<Pick<Registration, 'lifetimeSeconds' | 'binding' | 'queueMode'>>;

export function parseUpdateQuery(query: string): Parsed<RegistrationChanges> {
  const params = queryParameters(query);
  const lifetime = parseLifetime(params.get('lt'));
  if (!lifetime.ok) return lifetime;
  const binding = parseBinding(params.get('b'));
  if (!binding.ok) return binding;
  const changes: RegistrationChanges = {};
  if (lifetime.value !== undefined) changes.lifetimeSeconds = lifetime.value;
  if (binding.value !== undefined) {
    changes.binding = binding.value.replace('Q', '');
    changes.queueMode = binding.value.includes('Q') || params.has('Q');
  }
  return { ok: true, value: changes };
}

export function parseObjectLinks(payload: Buffer): Parsed<Link[]> {
  try {
    return { ok: true, value: parseLinkFormat(payload.toString('utf8')) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

export interface RegistrationBookOptions {
  onExpired(registration: Registration): void;
  now?: () => Date;
}

/** The live registrations of one gateway, by registration id and by endpoint. */
export class RegistrationBook {
  private readonly byId = new Map<string, Registration>();
  private readonly idByEndpoint = new Map<string, string>();
  private readonly idByAddress = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => Date;

  constructor(private readonly options: RegistrationBookOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** A new registration replaces the endpoint's previous one, which is returned. */
  register(
    parameters: RegistrationParameters,
    objectLinks: Link[],
    from: { address: string; port: number },
    pskIdentity: string | null = null,
  ): { registration: Registration; replaced?: Registration } {
    const replaced = this.findByEndpoint(parameters.endpoint);
    if (replaced) this.remove(replaced.id);
    const at = this.now();
    const registration: Registration = {
      ...parameters,
      id: randomBytes(6).toString('hex'),
      pskIdentity,
      objectLinks,
      address: from.address,
      port: from.port,
      registeredAt: at,
      lastUplinkAt: at,
    };
    this.byId.set(registration.id, registration);
    this.idByEndpoint.set(registration.endpoint, registration.id);
    this.idByAddress.set(addressKey(registration), registration.id);
    this.armTimer(registration);
    return { registration, replaced };
  }

  /** A registration kept from before a restart, with what is left of its lifetime. */
  restore(registration: Registration, remainingMs: number): void {
    this.byId.set(registration.id, registration);
    this.idByEndpoint.set(registration.endpoint, registration.id);
    this.idByAddress.set(addressKey(registration), registration.id);
    this.armTimer(registration, remainingMs);
  }

  /** The device's address may change between updates (NAT rebinding): the latest one is kept. */
  update(
    id: string,
    changes: RegistrationChanges,
    objectLinks: Link[] | undefined,
    from: { address: string; port: number },
  ): Registration | undefined {
    const registration = this.byId.get(id);
    if (!registration) return undefined;
    this.forgetAddress(registration);
    Object.assign(registration, changes, from, { lastUplinkAt: this.now() });
    this.idByAddress.set(addressKey(registration), registration.id);
    if (objectLinks) registration.objectLinks = objectLinks;
    this.armTimer(registration);
    return registration;
  }

  /** Any other request from the device's address counts as a sign of life for queue mode. */
  touch(registration: Registration): void {
    registration.lastUplinkAt = this.now();
  }

  remove(id: string): Registration | undefined {
    const registration = this.byId.get(id);
    if (!registration) return undefined;
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.byId.delete(id);
    if (this.idByEndpoint.get(registration.endpoint) === id) this.idByEndpoint.delete(registration.endpoint);
    this.forgetAddress(registration);
    return registration;
  }

  get(id: string): Registration | undefined {
    return this.byId.get(id);
  }

  findByEndpoint(endpoint: string): Registration | undefined {
    const id = this.idByEndpoint.get(endpoint);
    return id === undefined ? undefined : this.byId.get(id);
  }

  findByAddress(address: string, port: number): Registration | undefined {
    const id = this.idByAddress.get(addressKey({ address, port }));
    return id === undefined ? undefined : this.byId.get(id);
  }

  list(): Registration[] {
    return [...this.byId.values()];
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.byId.clear();
    this.idByEndpoint.clear();
    this.idByAddress.clear();
  }

  private forgetAddress(registration: Registration): void {
    const key = addressKey(registration);
    if (this.idByAddress.get(key) === registration.id) this.idByAddress.delete(key);
  }

  private armTimer(registration: Registration, lifetimeMs = registration.lifetimeSeconds * 1000): void {
    clearTimeout(this.timers.get(registration.id));
    const timer = setTimeout(
      () => {
        if (this.remove(registration.id)) this.options.onExpired(registration);
      },
      Math.min(lifetimeMs, MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(registration.id, timer);
  }
}

function addressKey({ address, port }: { address: string; port: number }): string {
  return `${address}|${port}`;
}

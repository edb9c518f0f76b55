import { describe, expect, it } from 'vitest';
import { createEndpointAdmission } from '../../../src/lwm2m/endpoint-admission';

function countingLookup(devices: string[]) {
  const asked: string[] = [];
  return {
    asked,
    lwm2mDevice: async (endpoint: string) => {
      asked.push(endpoint);
      return devices.includes(endpoint) ? { pskIdentity: null } : undefined;
    },
  };
}

describe('LwM2M endpoint admission', () => {
  it('costs made-up endpoint names at most its lookup budget, and still admits provisioned devices', async () => {
    const fleet = Array.from({ length: 300 }, (_, i) => `meter-${i}`);
    const lookup = countingLookup(fleet);
    const admit = createEndpointAdmission(lookup.lwm2mDevice, {
      unknownLookupsPerSecond: 10,
      rememberUnknownMs: 60_000,
      remembered: 1000,
    });
    // A whole fleet registering at once spends none of the budget.
    for (const meter of fleet) expect(await admit(meter)).toEqual({ pskIdentity: null });
    const answers = [];
    for (let i = 0; i < 500; i++) answers.push(await admit(`spoofed-${i}`));
    expect(lookup.asked).toHaveLength(fleet.length + 10);
    expect(answers.filter((answer) => answer === 'unknown endpoint')).toHaveLength(10);
    expect(answers.filter((answer) => answer === 'busy')).toHaveLength(490);
    // Refused endpoints are answered from memory; the budget spent, the others must wait.
    expect(await admit('spoofed-0')).toBe('unknown endpoint');
    expect(await admit('meter-1')).toBe('busy');
    expect(lookup.asked).toHaveLength(fleet.length + 10);
  });

  it('looks an endpoint up again once its answer is older than rememberMs', async () => {
    const lookup = countingLookup([]);
    const admit = createEndpointAdmission(lookup.lwm2mDevice, {
      unknownLookupsPerSecond: 100,
      rememberUnknownMs: 50,
      remembered: 1000,
    });
    expect(await admit('late-meter')).toBe('unknown endpoint');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await admit('late-meter')).toBe('unknown endpoint');
    expect(lookup.asked).toEqual(['late-meter', 'late-meter']);
  });
});

import { describe, expect, it } from 'vitest';
import { isValidDeviceId } from '../../../src/mqtt/ota-protocol';
import { planFleet } from '../../../src/simulator/fleet';

describe('planFleet', () => {
  it('plans distinct, valid devices with distinct secrets and a mix of behaviours', () => {
    const plan = planFleet({ count: 12, idPrefix: 'demo' });
    expect(plan).toHaveLength(12);
    expect(new Set(plan.map((device) => device.deviceId)).size).toBe(12);
    expect(new Set(plan.map((device) => device.secret)).size).toBe(12);
    expect(plan.every((device) => isValidDeviceId(device.deviceId))).toBe(true);
    expect(plan[0]?.deviceId).toBe('demo-001');
    const names = new Set(plan.map((device) => device.behaviourName));
    expect(names).toContain('healthy');
    expect(names).toContain('corrupted download (integrity check fails)');
    expect(names).toContain('offline (never connects)');
    expect(plan.filter((device) => device.behaviourName === 'healthy').length).toBeGreaterThan(
      plan.length / 4,
    );
  });
});

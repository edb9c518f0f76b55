import { describe, expect, it } from 'vitest';
import {
  buildUpgradeNotification,
  buildVersionQuery,
  deviceIdOfUplinkTopic,
  eventsDownTopic,
  parseDownlink,
  parseUplink,
} from '../../../src/mqtt/ota-protocol';

const at = new Date('2025-03-04T05:06:07Z');

function uplink(services: unknown[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({ services, ...extra });
}

describe('topics', () => {
  it('reads the device from an uplink topic and nothing else', () => {
    expect(deviceIdOfUplinkTopic('$oc/devices/prod_node-1/sys/events/up')).toBe('prod_node-1');
    expect(deviceIdOfUplinkTopic('$oc/devices/prod_node-1/sys/events/down')).toBeUndefined();
    expect(deviceIdOfUplinkTopic('$oc/devices/a/b/sys/events/up')).toBeUndefined();
    // Where otaflow's Mosquitto plugin moves them, for shared subscriptions.
    expect(deviceIdOfUplinkTopic('otaflow/uplinks/prod_node-1')).toBe('prod_node-1');
    expect(deviceIdOfUplinkTopic('otaflow/uplinks/a/b')).toBeUndefined();
    expect(deviceIdOfUplinkTopic('otaflow/uplinks/')).toBeUndefined();
    expect(eventsDownTopic('d1')).toBe('$oc/devices/d1/sys/events/down');
  });
});

describe('parseUplink', () => {
  it('parses a version_report as the Python SDK sends it (event_id empty, ISO event_time)', () => {
    const payload = uplink([
      {
        service_id: '$ota',
        event_type: 'version_report',
        event_time: '2025-03-04T05:06:07Z',
        event_id: '',
        paras: { fw_version: 'v1.0.0', sw_version: 'v2.0.0' },
      },
    ]);
    expect(parseUplink('d1', payload)).toEqual({
      ok: true,
      value: {
        events: [
          { type: 'version_report', report: { firmwareVersion: 'v1.0.0', softwareVersion: 'v2.0.0' } },
        ],
        ignoredServices: [],
      },
    });
  });

  it('parses an upgrade_progress_report with and without optional fields', () => {
    const payload = uplink(
      [
        {
          service_id: '$ota',
          event_type: 'upgrade_progress_report',
          paras: { result_code: 0, progress: 40, version: 'v2' },
        },
        {
          service_id: '$ota',
          event_type: 'upgrade_progress_report',
          paras: { result_code: 5, version: 'v1', description: 'no space' },
        },
      ],
      { object_device_id: 'd1' },
    );
    const parsed = parseUplink('d1', payload);
    expect(parsed.ok && parsed.value.events).toEqual([
      { type: 'upgrade_progress_report', resultCode: 0, progress: 40, version: 'v2', description: undefined },
      {
        type: 'upgrade_progress_report',
        resultCode: 5,
        progress: undefined,
        version: 'v1',
        description: 'no space',
      },
    ]);
  });

  it('lists services other than $ota as ignored, not as errors', () => {
    const payload = uplink([{ service_id: '$time_sync', event_type: 'time_sync_request', paras: {} }]);
    expect(parseUplink('d1', payload)).toEqual({
      ok: true,
      value: { events: [], ignoredServices: ['$time_sync'] },
    });
  });

  it.each([
    ['not json', '{oops', 'payload is not valid JSON'],
    ['no services', JSON.stringify({ object_device_id: 'd1' }), 'invalid event envelope: services'],
    [
      'unknown event type',
      uplink([{ service_id: '$ota', event_type: 'reboot', paras: {} }]),
      "unknown $ota event_type 'reboot'",
    ],
    [
      'version report without versions',
      uplink([{ service_id: '$ota', event_type: 'version_report', paras: {} }]),
      'version_report paras: carries neither fw_version nor sw_version',
    ],
    [
      'result code not a number',
      uplink([
        {
          service_id: '$ota',
          event_type: 'upgrade_progress_report',
          paras: { result_code: '0', version: 'v' },
        },
      ]),
      'upgrade_progress_report paras: result_code',
    ],
    [
      'progress above 100',
      uplink([
        {
          service_id: '$ota',
          event_type: 'upgrade_progress_report',
          paras: { result_code: 0, progress: 140, version: 'v' },
        },
      ]),
      'upgrade_progress_report paras: progress',
    ],
    [
      'event about another device',
      uplink([{ service_id: '$ota', event_type: 'version_report', paras: { sw_version: '1' } }], {
        object_device_id: 'someone-else',
      }),
      "object_device_id 'someone-else' differs from the topic's device 'd1'",
    ],
  ])('refuses %s with an error naming the problem', (_case, payload, expected) => {
    const parsed = parseUplink('d1', payload);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toContain(expected);
  });

  it('refuses the whole message when one $ota event is invalid', () => {
    const payload = uplink([
      { service_id: '$ota', event_type: 'version_report', paras: { sw_version: '1' } },
      { service_id: '$ota', event_type: 'upgrade_progress_report', paras: {} },
    ]);
    expect(parseUplink('d1', payload).ok).toBe(false);
  });
});

describe('downlinks', () => {
  it('builds version_query in the platform format', () => {
    expect(buildVersionQuery('d1', at)).toEqual({
      object_device_id: 'd1',
      services: [
        { service_id: '$ota', event_type: 'version_query', event_time: '20250304T050607Z', paras: {} },
      ],
    });
  });

  it('builds firmware_upgrade with every field the SDKs read; expires is the remaining validity in seconds', () => {
    const sha256 = 'a'.repeat(64);
    const message = buildUpgradeNotification(
      'd1',
      'firmware',
      {
        url: 'http://127.0.0.1:9000/pkg.bin',
        accessToken: 'tok',
        expiresAt: Math.floor(at.getTime() / 1000) + 86_400,
        version: 'v2',
        fileName: 'pkg.bin',
        size: 1234,
        sha256,
      },
      at,
    );
    expect(message.services[0]).toEqual({
      service_id: '$ota',
      event_type: 'firmware_upgrade',
      event_time: '20250304T050607Z',
      paras: {
        version: 'v2',
        url: 'http://127.0.0.1:9000/pkg.bin',
        file_size: 1234,
        file_name: 'pkg.bin',
        access_token: 'tok',
        expires: 86_400,
        sign: sha256,
      },
    });
    expect(parseDownlink('d1', JSON.stringify(message))).toEqual({
      ok: true,
      value: [
        {
          type: 'firmware_upgrade',
          version: 'v2',
          url: 'http://127.0.0.1:9000/pkg.bin',
          fileSize: 1234,
          fileName: 'pkg.bin',
          accessToken: 'tok',
          expiresInSeconds: 86_400,
          sha256,
        },
      ],
    });
  });

  it("adds a signed package's release signature beside the seed's paras", () => {
    const delivery = {
      url: 'http://h/p',
      accessToken: 't',
      expiresAt: 0,
      version: 'v2',
      fileName: 'p',
      size: 1,
      sha256: 'ab'.repeat(32),
    };
    const signed = buildUpgradeNotification('d1', 'firmware', { ...delivery, signature: 'c2lnbmF0dXJl' });
    expect(signed.services[0]?.paras).toMatchObject({ sign: 'ab'.repeat(32), signature: 'c2lnbmF0dXJl' });
    expect(buildUpgradeNotification('d1', 'firmware', delivery).services[0]?.paras).not.toHaveProperty(
      'signature',
    );
  });

  it('uses software_upgrade for software packages', () => {
    const message = buildUpgradeNotification(
      'd1',
      'software',
      {
        url: 'http://h/p',
        accessToken: 't',
        expiresAt: 0,
        version: 'v',
        fileName: 'p',
        size: 1,
        sha256: 'b'.repeat(64),
      },
      at,
    );
    expect(message.services[0]?.event_type).toBe('software_upgrade');
    expect(message.services[0]?.paras.expires).toBe(0);
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../../src/duration-text';
import { storyOf, type TimelineEntry } from '../../../src/temporal/device-story';

/**
 * A device's story, told from histories recorded from the real workflows (test/replay/histories):
 * the seed's steps in order, the commands and reports between them, the waits and how the run ended.
 */
const timelineOfHistory = (name: string): TimelineEntry[] => {
  const file = path.join(__dirname, '../../replay/histories/0.1.0', `${name}.json`);
  return storyOf(historyFromJSON(JSON.parse(readFileSync(file, 'utf8'))).events ?? []).timeline;
};
const texts = (timeline: TimelineEntry[], kind?: TimelineEntry['kind']) =>
  timeline.filter((entry) => !kind || entry.kind === kind).map((entry) => entry.text);

describe("a device's story", () => {
  it('tells an MQTT failure: version query, report, notification, the device result code, the seed cause', () => {
    const timeline = timelineOfHistory('mqtt-upgrade-device-failure');
    expect(texts(timeline)).toEqual([
      'Upgrade to firmware 2.0.0 started',
      'Querying the device version',
      'Version query sent',
      'Reported firmware version 1.0.0',
      'Downloading the package',
      'Upgrade notification sent: download URL, token and package 2.0.0',
      'Reported result code 7',
      'Result recorded and notified to the application',
      'Failed: Integrity check failure for new downloaded package',
    ]);
    const times = timeline.map((entry) => Date.parse(entry.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(timeline.find((entry) => entry.text === 'Version query sent')?.durationMs).toBeGreaterThan(0);
  });

  it("shows the seed's 25-hour online wait timing out", () => {
    const timeline = timelineOfHistory('mqtt-upgrade-online-timeout');
    expect(texts(timeline, 'step')).toEqual(['Waiting for the device to come online']);
    const wait = timeline.find((entry) => entry.kind === 'wait');
    expect(wait).toMatchObject({ text: 'Waited up to 25 h: timed out' });
    expect(wait?.durationMs).toBeGreaterThanOrEqual(25 * 3_600_000);
    expect(texts(timeline).at(-1)).toBe('Failed: Waiting for the device online timeout');
  });

  it('tells an LwM2M download timeout: reads and their answers, the cell permit, the 60-minute wait', () => {
    const timeline = timelineOfHistory('lwm2m-firmware-downloaded-timeout');
    expect(texts(timeline, 'step')).toEqual([
      'Querying the device version',
      'Querying the radio coverage and cell ID',
      "Waiting for a permit of the device's cell",
      'Downloading the package',
    ]);
    expect(texts(timeline)).toContain('Answered /3/0/3 (firmware version) = "1.0.0"');
    expect(texts(timeline)).toContain('Cell cell-18 granted a permit');
    expect(texts(timeline, 'wait')).toEqual(['Waited up to 60 min: timed out']);
    expect(texts(timeline).at(-1)).toBe('Failed: Waiting for device downloaded package timeout');
  });

  it('tells an LwM2M software success through its update states to the new version', () => {
    const timeline = timelineOfHistory('lwm2m-software-success');
    expect(texts(timeline, 'command')).toContain('Sent: execute /9/0/4 (software install)');
    expect(texts(timeline, 'step').at(-1)).toBe('Updating');
    expect(texts(timeline).at(-1)).toBe('Succeeded: now at 2.0.0');
  });

  it('writes durations the way an operator reads them', () => {
    expect([450, 42_000, 180_000, 3_600_000, 90_000_000].map(formatDuration)).toEqual([
      '450 ms',
      '42 s',
      '3 min',
      '60 min',
      '25 h',
    ]);
  });
});

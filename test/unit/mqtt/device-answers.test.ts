import { describe, expect, it } from 'vitest';
import { createVersionAnswers, signallingVersionAnswers } from '../../../src/mqtt/device-answers';
import { RecordingSink } from './fakes';

describe('createVersionAnswers', () => {
  it('wakes a listener as soon as its device’s answer is signalled', async () => {
    const answers = createVersionAnswers();
    const answer = answers.listen('d1');
    const waited = answer.within(5_000);
    answers.signalled('d1');
    await expect(waited).resolves.toBe(true);
  });

  it('counts an answer signalled before the wait began (the device was quicker than the publish)', async () => {
    const answers = createVersionAnswers();
    const answer = answers.listen('d1');
    answers.signalled('d1');
    await expect(answer.within(5_000)).resolves.toBe(true);
  });

  it('gives up after the wait without an answer, and ignores other devices’ answers', async () => {
    const answers = createVersionAnswers();
    const answer = answers.listen('d1');
    answers.signalled('d2');
    await expect(answer.within(30)).resolves.toBe(false);
  });

  it('does not count an answer signalled before listening, or after the listener stopped', async () => {
    const answers = createVersionAnswers();
    answers.signalled('d1');
    const stopped = answers.listen('d1');
    stopped.stop();
    answers.signalled('d1');
    await expect(stopped.within(30)).resolves.toBe(false);
  });
});

describe('signallingVersionAnswers', () => {
  it('tells the listeners only after the version report has been signalled, and passes every event on', async () => {
    const recording = new RecordingSink();
    const answers = createVersionAnswers();
    const sink = signallingVersionAnswers(recording, answers);
    const answer = answers.listen('d1');
    await sink.deviceOnline('d1');
    await sink.upgradeResultReported('d1', { resultCode: 0, version: '2' });
    await expect(answer.within(30)).resolves.toBe(false);

    const again = answers.listen('d1');
    const woken = again.within(5_000).then((answered) => ({ answered, signals: recording.calls.length }));
    await sink.versionReported('d1', { firmwareVersion: '1' });
    await expect(woken).resolves.toEqual({ answered: true, signals: 3 });
    expect(recording.calls.map((call) => call.signal)).toEqual([
      'deviceOnline',
      'upgradeResultReported',
      'versionReported',
    ]);
  });
});

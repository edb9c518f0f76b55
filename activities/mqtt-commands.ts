/**
 * The MQTT device commands (TaskQueue.mqttGateway): each publishes one `$ota` downlink through the
 * gateway. A device the registry knows to be offline cannot receive it, and retrying would not help.
 */

import { ApplicationFailure } from '@temporalio/common';
import type { DeviceRegistry } from '../src/devices/registry';
import { type Logger, logger } from '../src/logger';
import type { VersionAnswers } from '../src/mqtt/device-answers';
import type { DownlinkPublisher } from '../src/mqtt/gateway';
import { buildUpgradeNotification, buildVersionQuery } from '../src/mqtt/ota-protocol';
import { deviceOperationWorkflowId } from '../workflows/definitions';
import type { DownloadTokens } from './download-tokens';
import { DEVICE_NOT_ONLINE, type MqttCommandActivities, type PlatformActivities } from './interfaces';

export interface MqttCommandDependencies {
  gateway: DownlinkPublisher;
  registry: Pick<DeviceRegistry, 'isOnline'>;
  /** What `mqttUpgrade`'s combined commands do besides publishing: the API's step, the download token. */
  platform: Pick<PlatformActivities, 'recordUpgradeStep'> & DownloadTokens;
  /** Version reports as the gateway signals them, so a query can wait for its answer. */
  versionAnswers: VersionAnswers;
  /** Where each command sent is logged, one line each (docs/observability.md). */
  log?: Logger;
}

/**
 * How long a version query waits, after sending, for its answer to have been signalled to the
 * workflow (src/mqtt/device-answers.ts says why). An online device answers well within it; one that
 * does not only makes the query complete this much later. Each waiting query holds one of the
 * gateway worker's activity slots (100), so this also bounds the queries a process sends per second.
 */
const VERSION_ANSWER_WAIT_MS = 1_000;

export function createMqttCommandActivities({
  gateway,
  registry,
  platform,
  versionAnswers,
  log = logger.child({ component: 'device-commands' }),
}: MqttCommandDependencies): MqttCommandActivities {
  const sent = (deviceId: string, command: string) =>
    log.info({ deviceId, workflowId: deviceOperationWorkflowId(deviceId), command }, 'device command sent');
  const notOnline = (deviceId: string) =>
    ApplicationFailure.nonRetryable(`device ${deviceId} is not online`, DEVICE_NOT_ONLINE);
  async function requireOnline(deviceId: string): Promise<void> {
    if (!(await registry.isOnline(deviceId))) throw notOnline(deviceId);
  }
  async function queryVersion(deviceId: string): Promise<void> {
    const answer = versionAnswers.listen(deviceId);
    try {
      await gateway.publishDownlink(deviceId, buildVersionQuery(deviceId));
    } catch (error) {
      answer.stop();
      throw error;
    }
    sent(deviceId, 'version_query');
    await answer.within(VERSION_ANSWER_WAIT_MS);
  }
  return {
    async queryVersionIfOnline({ taskId, deviceId }, ifOffline) {
      if (!(await registry.isOnline(deviceId))) {
        if (ifOffline === 'fail') throw notOnline(deviceId);
        await platform.recordUpgradeStep(taskId, deviceId, 'waiting-online');
        return false;
      }
      await platform.recordUpgradeStep(taskId, deviceId, 'querying-version');
      await queryVersion(deviceId);
      return true;
    },
    async deliverUpgrade({ taskId, deviceId }, pkg, fromVersion) {
      await requireOnline(deviceId);
      const token = await platform.issueDownloadToken(pkg.id, deviceId);
      const delivery = {
        ...token,
        version: pkg.version,
        fileName: pkg.fileName,
        size: pkg.size,
        sha256: pkg.sha256,
        signature: pkg.signature,
      };
      // Recorded first: a quick device's first progress report may come before the publish returns,
      // and it belongs to this step (and, traced, to this activity's span).
      await platform.recordUpgradeStep(taskId, deviceId, 'downloading', { fromVersion });
      const publishedAt = new Date().toISOString();
      await gateway.publishDownlink(deviceId, buildUpgradeNotification(deviceId, pkg.kind, delivery));
      sent(deviceId, `${pkg.kind}_upgrade`);
      return { publishedAt };
    },
  };
}

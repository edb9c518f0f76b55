/**
 * The MQTT device commands (TaskQueue.mqttGateway): each publishes one `$ota` downlink through the
 * gateway. A device the registry knows to be offline cannot receive it, and retrying would not help.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DeviceRegistry } from '../src/devices/registry';
import type { DownlinkPublisher } from '../src/mqtt/gateway';
import { buildUpgradeNotification, buildVersionQuery } from '../src/mqtt/ota-protocol';
import { DEVICE_NOT_ONLINE, type MqttCommandActivities, type PlatformActivities } from './interfaces';

export interface MqttCommandDependencies {
  gateway: DownlinkPublisher;
  registry: Pick<DeviceRegistry, 'isOnline'>;
  /** What `mqttUpgradeV3`'s combined commands do besides publishing: the API's step, the download token. */
  platform: Pick<PlatformActivities, 'recordUpgradeStep' | 'issueDownloadToken'>;
}

export function createMqttCommandActivities({
  gateway,
  registry,
  platform,
}: MqttCommandDependencies): MqttCommandActivities {
  const notOnline = (deviceId: string) =>
    ApplicationFailure.nonRetryable(`device ${deviceId} is not online`, DEVICE_NOT_ONLINE);
  async function requireOnline(deviceId: string): Promise<void> {
    if (!(await registry.isOnline(deviceId))) throw notOnline(deviceId);
  }
  return {
    async sendVersionQuery(deviceId) {
      await requireOnline(deviceId);
      await gateway.publishDownlink(deviceId, buildVersionQuery(deviceId));
    },
    async sendUpgradeNotification(deviceId, kind, delivery) {
      await requireOnline(deviceId);
      await gateway.publishDownlink(deviceId, buildUpgradeNotification(deviceId, kind, delivery));
    },
    async queryVersionIfOnline({ taskId, deviceId }, ifOffline) {
      if (!(await registry.isOnline(deviceId))) {
        if (ifOffline === 'fail') throw notOnline(deviceId);
        await platform.recordUpgradeStep(taskId, deviceId, 'waiting-online');
        return false;
      }
      await platform.recordUpgradeStep(taskId, deviceId, 'querying-version');
      await gateway.publishDownlink(deviceId, buildVersionQuery(deviceId));
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
      };
      await gateway.publishDownlink(deviceId, buildUpgradeNotification(deviceId, pkg.kind, delivery));
      await platform.recordUpgradeStep(taskId, deviceId, 'downloading', { fromVersion });
    },
  };
}

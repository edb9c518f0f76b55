/**
 * The MQTT device commands (TaskQueue.mqttGateway): each publishes one `$ota` downlink through the
 * gateway. A device the registry knows to be offline cannot receive it, and retrying would not help.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DeviceRegistry } from '../src/devices/registry';
import type { DownlinkPublisher } from '../src/mqtt/gateway';
import { buildUpgradeNotification, buildVersionQuery } from '../src/mqtt/ota-protocol';
import { DEVICE_NOT_ONLINE, type MqttCommandActivities } from './interfaces';

export interface MqttCommandDependencies {
  gateway: DownlinkPublisher;
  registry: Pick<DeviceRegistry, 'isOnline'>;
}

export function createMqttCommandActivities({
  gateway,
  registry,
}: MqttCommandDependencies): MqttCommandActivities {
  async function requireOnline(deviceId: string): Promise<void> {
    if (!(await registry.isOnline(deviceId))) {
      throw ApplicationFailure.nonRetryable(`device ${deviceId} is not online`, DEVICE_NOT_ONLINE);
    }
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
  };
}

import { useState } from 'preact/hooks';
import { query } from '../api-client';
import type { Device } from '../api-types';
import { formatTime } from '../format';
import { ListState, Pager, usePaged } from '../paging';
import { linkTo } from '../router';
import { useCan } from '../session';
import { ProvisionDevices } from './provision-devices';
import { VersionChart } from './version-chart';

interface DeviceFilters {
  protocol: string;
  product: string;
  model: string;
  version: string;
  tag: string;
}

const NO_FILTERS: DeviceFilters = { protocol: '', product: '', model: '', version: '', tag: '' };

export function DevicesPage() {
  const can = useCan();
  const [filters, setFilters] = useState(NO_FILTERS);
  const [draft, setDraft] = useState(NO_FILTERS);
  const [deviceId, setDeviceId] = useState('');
  const devices = usePaged<Device>(`/v1/devices${query({ limit: 25, ...filters })}`);
  const field = (name: keyof DeviceFilters, label: string) => (
    <label>
      {label}{' '}
      <input
        name={name}
        value={draft[name]}
        onInput={(event) => setDraft({ ...draft, [name]: event.currentTarget.value.trim() })}
      />
    </label>
  );
  return (
    <section aria-labelledby="devices-title">
      <header class="page-header">
        <h1 id="devices-title">Devices</h1>
        <form
          class="inline"
          aria-label="Open a device by its ID"
          onSubmit={(event) => {
            event.preventDefault();
            if (deviceId.trim()) window.location.hash = linkTo('devices', deviceId.trim());
          }}
        >
          <label>
            Device ID <input value={deviceId} onInput={(event) => setDeviceId(event.currentTarget.value)} />
          </label>
          <button type="submit">Open</button>
        </form>
      </header>
      <VersionChart />
      {can('write') && <ProvisionDevices onProvisioned={devices.reload} />}
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          setFilters(draft);
        }}
      >
        <label>
          Protocol{' '}
          <select
            value={draft.protocol}
            onChange={(event) => setDraft({ ...draft, protocol: event.currentTarget.value })}
          >
            <option value="">any</option>
            <option value="mqtt">MQTT</option>
            <option value="lwm2m">LwM2M</option>
          </select>
        </label>
        {field('product', 'Product')}
        {field('model', 'Model')}
        {field('version', 'Version')}
        {field('tag', 'Tag')}
        <button type="submit">Filter</button>
      </form>
      <ListState paged={devices} empty="No device matches." />
      {devices.items.length > 0 && (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Protocol</th>
                <th scope="col">Product / model</th>
                <th scope="col">Software</th>
                <th scope="col">Firmware</th>
                <th scope="col">Online</th>
                <th scope="col">Last seen</th>
                <th scope="col">Tags</th>
              </tr>
            </thead>
            <tbody>
              {devices.items.map((device) => (
                <tr key={device.id} class={device.disabledAt ? 'disabled' : ''}>
                  <td>
                    <a href={linkTo('devices', device.id)}>{device.id}</a>
                  </td>
                  <td>{device.protocol}</td>
                  <td>
                    {device.product} / {device.model}
                  </td>
                  <td>{device.softwareVersion ?? '—'}</td>
                  <td>{device.firmwareVersion ?? '—'}</td>
                  <td>{device.disabledAt ? 'disabled' : device.online ? 'online' : 'offline'}</td>
                  <td>{formatTime(device.lastSeenAt)}</td>
                  <td>{device.tags.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager paged={devices} label="Devices" />
    </section>
  );
}

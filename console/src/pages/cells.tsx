import { useEffect } from 'preact/hooks';
import { query } from '../api-client';
import type { CellState } from '../api-types';
import { ListState, Pager, usePaged } from '../paging';
import { linkTo } from '../router';

/** How often the cells are read again: permits change as devices download, there is no event stream. */
const REFRESH_MS = 3000;

/** Each NB-IoT cell with a running limiter: its permit limit, the devices holding one, the queue. */
export function CellsPage() {
  const cells = usePaged<CellState>(`/v1/cells${query({ limit: 20 })}`);
  const { reload } = cells;
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);
  return (
    <section aria-labelledby="cells-title">
      <header class="page-header">
        <h1 id="cells-title">Cells</h1>
        <span class="live on">every {REFRESH_MS / 1000} s</span>
      </header>
      <p class="muted">
        NB-IoT devices download one cell at a time within its permit limit (docs/cell-limiter.md); a cell is
        listed while some device holds or waits for a permit.
      </p>
      <ListState paged={cells} empty="No cell has a device upgrading or waiting now." />
      {cells.items.map((cell) => (
        <article key={cell.cellId} class="panel cell" data-testid={`cell-${cell.cellId}`}>
          <h2>
            Cell {cell.cellId}{' '}
            <span class="muted">
              {cell.holders.length} of {limitOf(cell) ?? '?'} permits held · {cell.queue.length} waiting
            </span>
          </h2>
          <meter
            min={0}
            max={limitOf(cell) ?? 1}
            value={cell.holders.length}
            aria-label={`Permits held in ${cell.cellId}`}
          />
          <div class="cell-lists">
            <DeviceList title="Holding a permit" devices={cell.holders} />
            <DeviceList title="Waiting, first in line first" devices={cell.queue} />
          </div>
        </article>
      ))}
      <Pager paged={cells} label="Cells" />
    </section>
  );
}

/** The limit as the devices' coverage sees it (50, 10 or 1): the holders' and the queue's agree. */
function limitOf(cell: CellState): number | undefined {
  return (cell.holders[0] ?? cell.queue[0])?.limit;
}

function DeviceList(props: { title: string; devices: CellState['holders'] }) {
  return (
    <div>
      <h3>{props.title}</h3>
      {props.devices.length === 0 ? (
        <p class="empty">none</p>
      ) : (
        <ol>
          {props.devices.map((device) => (
            <li key={device.deviceId}>
              <a href={linkTo('devices', device.deviceId)}>{device.deviceId}</a>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

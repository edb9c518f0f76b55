import { useState } from 'preact/hooks';
import { query } from '../api-client';
import type { Task } from '../api-types';
import { formatCount, formatTime, inOrder } from '../format';
import { ListState, Pager, usePaged } from '../paging';
import { linkTo } from '../router';
import { useCan } from '../session';

const TASK_STATES = inOrder<Task['state']>({
  scheduled: true,
  running: true,
  paused: true,
  cancelling: true,
  completed: true,
  cancelled: true,
  aborted: true,
});

/** `packageId`: only the tasks that install this package (a package's "used by"). */
export function TasksPage(props: { packageId?: string }) {
  const can = useCan();
  const [state, setState] = useState('');
  const tasks = usePaged<Task>(`/v1/tasks${query({ limit: 25, state, packageId: props.packageId })}`);
  return (
    <section aria-labelledby="tasks-title">
      <header class="page-header">
        <h1 id="tasks-title">Tasks</h1>
        {props.packageId && (
          <p class="filter-note">
            installing package {props.packageId} · <a href={linkTo('tasks')}>all tasks</a>
          </p>
        )}
        {can('write') && (
          <a class="button primary" href={linkTo('tasks', 'new')}>
            New task
          </a>
        )}
        <label>
          State{' '}
          <select value={state} onChange={(event) => setState(event.currentTarget.value)}>
            <option value="">any</option>
            {TASK_STATES.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
      </header>
      <ListState paged={tasks} empty="No task." />
      {tasks.items.length > 0 && (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">State</th>
                <th scope="col">Devices</th>
                <th scope="col">Created</th>
                <th scope="col">Finished</th>
              </tr>
            </thead>
            <tbody>
              {tasks.items.map((task) => (
                <tr key={task.id}>
                  <td>
                    <a href={linkTo('tasks', task.id)}>{task.name ?? task.id}</a>
                  </td>
                  <td>
                    <span class={`state state-${task.state}`}>{task.state}</span>
                  </td>
                  <td class="number">{formatCount(task.deviceCount)}</td>
                  <td>{formatTime(task.createdAt)}</td>
                  <td>{formatTime(task.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager paged={tasks} label="Tasks" />
    </section>
  );
}

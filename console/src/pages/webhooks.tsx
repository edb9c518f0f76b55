import { useState } from 'preact/hooks';
import { ApiError, api, query } from '../api-client';
import type { Webhook, WebhookDelivery } from '../api-types';
import { ErrorMessage } from '../error-message';
import { formatTime } from '../format';
import { ListState, Pager, usePaged } from '../paging';
import { linkTo } from '../router';
import { useCan } from '../session';

/** The webhook subscriptions and, for each, its deliveries: what was sent, what failed, re-send. */
export function WebhooksPage() {
  const webhooks = usePaged<Webhook>(`/v1/webhooks${query({ limit: 25 })}`);
  return (
    <section aria-labelledby="webhooks-title">
      <header class="page-header">
        <h1 id="webhooks-title">Webhooks</h1>
      </header>
      <ListState paged={webhooks} empty="No webhook. Subscribe one with POST /v1/webhooks (docs/api.md)." />
      {webhooks.items.map((webhook) => (
        <details key={webhook.id} class="panel" data-testid={`webhook-${webhook.id}`}>
          <summary>
            {webhook.url} <span class="muted">({webhook.events.join(', ')})</span>
            {webhook.taskId && (
              <>
                {' '}
                for task <a href={linkTo('tasks', webhook.taskId)}>{webhook.taskId}</a>
              </>
            )}
          </summary>
          <Deliveries webhookId={webhook.id} />
        </details>
      ))}
      <Pager paged={webhooks} label="Webhooks" />
    </section>
  );
}

function Deliveries(props: { webhookId: string }) {
  const can = useCan();
  const deliveries = usePaged<WebhookDelivery>(
    `/v1/webhooks/${encodeURIComponent(props.webhookId)}/deliveries${query({ limit: 25, order: 'newest' })}`,
  );
  const [error, setError] = useState<string>();
  const resend = async (delivery: WebhookDelivery) => {
    try {
      await api(
        'POST',
        `/v1/webhooks/${encodeURIComponent(props.webhookId)}/deliveries/${encodeURIComponent(delivery.id)}/redeliver`,
      );
      setError(undefined);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.detail : String(failure));
    }
    deliveries.reload();
  };
  return (
    <>
      {error && <ErrorMessage>{error}</ErrorMessage>}
      <ListState paged={deliveries} empty="Nothing sent yet." />
      {deliveries.items.length > 0 && (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Queued</th>
                <th scope="col">Delivered / failed / next</th>
                {can('write') && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {deliveries.items.map((delivery) => (
                <tr key={delivery.id} class={delivery.status === 'failed' ? 'failed' : ''}>
                  <td>
                    {delivery.eventType} <span class="muted">{delivery.eventId}</span>
                  </td>
                  <td>{delivery.status}</td>
                  <td class="number">{delivery.attempts}</td>
                  <td>{delivery.lastError ?? (delivery.lastStatus ? `HTTP ${delivery.lastStatus}` : '—')}</td>
                  <td>{formatTime(delivery.createdAt)}</td>
                  <td>{formatTime(delivery.deliveredAt ?? delivery.failedAt ?? delivery.nextAttemptAt)}</td>
                  {can('write') && (
                    <td>
                      {delivery.status === 'failed' && (
                        <button type="button" onClick={() => resend(delivery)}>
                          Re-send
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager paged={deliveries} label="Deliveries" />
    </>
  );
}

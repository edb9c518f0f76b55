import { describe, expect, it } from 'vitest';
import { largestDifferences, parseRequestCounts, requestsPerUnit } from '../temporal-requests';

const exposition = (signals: number, history: number) => `# HELP service_requests service_requests counter
# TYPE service_requests counter
service_requests{namespace="default",operation="SignalWorkflowExecution",service_name="frontend",task_queue="a"} ${signals}
service_requests{namespace="default",operation="SignalWorkflowExecution",service_name="frontend",task_queue="b"} 1
service_requests{namespace="default",operation="GetWorkflowExecutionHistory",service_name="frontend"} ${history}
service_requests{namespace="default",operation="RecordActivityTaskStarted",service_name="history"} 7
persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 40
persistence_latency_bucket{operation="UpdateWorkflowExecution",le="0.001"} 12
`;

describe("the Temporal server's requests (bench/temporal-requests.ts)", () => {
  it('sums the request counters by service and operation over their other labels', () => {
    expect(parseRequestCounts(exposition(9, 2))).toEqual({
      'frontend SignalWorkflowExecution': 10,
      'frontend GetWorkflowExecutionHistory': 2,
      'history RecordActivityTaskStarted': 7,
      'persistence UpdateWorkflowExecution': 40,
    });
  });

  it("gives a phase's requests per upgrade, largest first, and where two phases differ most", () => {
    const before = parseRequestCounts(exposition(9, 2));
    const otaflow = requestsPerUnit(before, parseRequestCounts(exposition(2009, 1502)), 1000);
    expect(Object.entries(otaflow)).toEqual([
      ['frontend SignalWorkflowExecution', 2],
      ['frontend GetWorkflowExecutionHistory', 1.5],
    ]);
    const ceiling = { 'frontend SignalWorkflowExecution': 2, 'frontend PollWorkflowTaskQueue': 0.25 };
    expect(largestDifferences(otaflow, ceiling, 2)).toEqual([
      'frontend GetWorkflowExecutionHistory: 1.5 vs 0',
      'frontend PollWorkflowTaskQueue: 0 vs 0.25',
    ]);
  });
});

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Task } from './api-types';
import type { ProgressSample } from './live-task';

interface Line {
  label: string;
  stroke: string;
  values: (sample: ProgressSample) => number | null;
  dash?: number[];
}

/**
 * A task's progress over time (devices done, failed, in progress; each wave's end drawn as a line),
 * and its success rate against the rollout's thresholds: the abort threshold and the success each
 * wave needs before the next one starts.
 */
export function ProgressCharts(props: { samples: ProgressSample[]; rollout: Task['rollout'] }) {
  const { samples, rollout } = props;
  const waveEnds = cumulative(rollout?.waves?.sizes ?? []);
  const countLines: Line[] = [
    { label: 'done', stroke: '#1a7f37', values: (sample) => sample.done },
    { label: 'failed', stroke: '#cf222e', values: (sample) => sample.failed },
    { label: 'in progress', stroke: '#0969da', values: (sample) => sample.inProgress },
    ...waveEnds.map((end, index) => ({
      label: `wave ${index + 1} ends`,
      stroke: '#8c959f',
      dash: [4, 4],
      values: () => end,
    })),
  ];
  const rateLines: Line[] = [{ label: 'success %', stroke: '#1a7f37', values: successPercent }];
  const failedPercent = rollout?.abort?.failedPercent;
  if (failedPercent !== undefined)
    rateLines.push({
      label: 'abort below %',
      stroke: '#cf222e',
      dash: [6, 3],
      values: () => 100 - failedPercent,
    });
  const waveSuccess = rollout?.waves?.successPercent;
  if (waveSuccess !== undefined)
    rateLines.push({
      label: 'next wave needs %',
      stroke: '#9a6700',
      dash: [2, 3],
      values: () => waveSuccess,
    });
  return (
    <div class="charts">
      <Chart title="Devices over time" samples={samples} lines={countLines} unit="devices" />
      <Chart title="Success rate of finished devices" samples={samples} lines={rateLines} unit="%" />
    </div>
  );
}

function Chart(props: { title: string; samples: ProgressSample[]; lines: Line[]; unit: string }) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const data = [
    props.samples.map((sample) => sample.at),
    ...props.lines.map((line) => props.samples.map(line.values)),
  ];
  const shape = props.lines.map((line) => line.label).join('|');

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const chart = new uPlot(
      {
        title: props.title,
        width: element.clientWidth || 320,
        height: 220,
        scales: { x: { time: true } },
        axes: [{}, { label: props.unit }],
        series: [
          {},
          ...props.lines.map((line) => ({
            label: line.label,
            stroke: line.stroke,
            dash: line.dash,
            width: 2,
          })),
        ],
      },
      data as uPlot.AlignedData,
      element,
    );
    plot.current = chart;
    const fit = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: 220 }));
    fit.observe(element);
    return () => {
      fit.disconnect();
      chart.destroy();
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  });
  return <figure class="chart" ref={container} aria-label={props.title} />;
}

function successPercent(sample: ProgressSample): number | null {
  const finished = sample.done + sample.failed;
  return finished === 0 ? null : (100 * sample.done) / finished;
}

function cumulative(sizes: number[]): number[] {
  let total = 0;
  return sizes.map((size) => {
    total += size;
    return total;
  });
}

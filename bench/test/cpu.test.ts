import { describe, expect, it } from 'vitest';
import { COMPONENTS, type Component, type CpuSnapshot, phaseCpu } from '../cpu';

const snapshot = (
  atMs: number,
  seconds: Partial<Record<Component, number>>,
  machine: { busy: number; steal: number; total: number },
): CpuSnapshot => ({
  atMs,
  seconds: {
    ...(Object.fromEntries(COMPONENTS.map((c) => [c, 0])) as Record<Component, number>),
    ...seconds,
  },
  machineBusyS: machine.busy,
  machineStealS: machine.steal,
  machineTotalS: machine.total,
});

describe("the benchmark's CPU figures of a phase", () => {
  it('divides each process’s CPU by the work done and keeps time stolen by the hypervisor apart', () => {
    // 10 s on 2 cores (20 CPU-s): the benchmark's processes used 12, another job 1, the hypervisor took 5.
    const from = snapshot(0, { temporal: 100, otaflow: 50 }, { busy: 1_000, steal: 200, total: 5_000 });
    const to = snapshot(10_000, { temporal: 108, otaflow: 54 }, { busy: 1_013, steal: 205, total: 5_020 });

    const phase = phaseCpu(from, to, 100);

    expect(phase).toMatchObject({
      wall_s: 10,
      machine_busy_pct: 65,
      steal_pct: 25,
      outside_s: 1,
    });
    expect(phase?.ms_per_unit).toMatchObject({ temporal: 80, otaflow: 40, total: 120 });
  });

  it('gives no figures without snapshots or work', () => {
    const at = snapshot(0, {}, { busy: 0, steal: 0, total: 0 });
    expect(phaseCpu(null, at, 10)).toBeNull();
    expect(phaseCpu(at, at, 0)).toBeNull();
  });
});

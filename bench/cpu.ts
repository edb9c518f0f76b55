/**
 * Where the machine's CPU goes during a phase: the CPU time of each process the benchmark started
 * (read from /proc, each one's subtree: PostgreSQL's backends count as PostgreSQL), of the benchmark
 * process itself (the simulated fleet, its downloads and the polling), and of the whole machine.
 * Two snapshots give a phase's figures. On a machine without /proc (not Linux) the figures are null.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The processes a benchmark run is made of; `other` holds any child that fits none of them. */
export const COMPONENTS = [
  'temporal',
  'otaflow',
  'fleet',
  'minio',
  'postgres',
  // Mosquitto, the split deployment's broker (the single process embeds its own).
  'broker',
  'bench-worker',
  'other',
] as const;
export type Component = (typeof COMPONENTS)[number];

export interface CpuSnapshot {
  atMs: number;
  /** CPU seconds so far, per component. */
  seconds: Record<Component, number>;
  /** The machine's busy, stolen and total CPU seconds (all cores) from /proc/stat. */
  machineBusyS: number;
  machineStealS: number;
  machineTotalS: number;
}

export interface PhaseCpu {
  wall_s: number;
  /** Share of all cores that were busy (any process, the benchmark's or not), 0–100. */
  machine_busy_pct: number;
  /**
   * Share of all cores' time the hypervisor gave to other guests (`steal`), 0–100: on a shared host
   * the benchmark's processes wait for a CPU, so a run with much of it is slower, and (measured,
   * BENCHMARKS.md) its processes are charged more CPU per upgrade too.
   */
  steal_pct: number;
  /** Busy CPU seconds not accounted to the benchmark's processes (other users of the machine). */
  outside_s: number;
  /** CPU milliseconds per unit of work (an upgrade, a grant), per component, and their sum. */
  ms_per_unit: Record<Component | 'total', number>;
}

const TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime: its own time and that of its children already reaped. */
  seconds: number;
}

/** `/proc/<pid>/stat`: the command name in parentheses may hold spaces, so fields count from its end. */
function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
    return { pid, ppid: Number(fields[1]), seconds: ticks / TICKS_PER_SECOND };
  } catch {
    return null; // it exited while the table was read
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** What a direct child of the benchmark is, by its command line. */
function componentOf(pid: number): Component {
  const command = commandLine(pid);
  if (command.includes('platform-process')) return 'otaflow';
  if (/(ceiling|limiter)[/\\]worker-process/.test(command)) return 'bench-worker';
  if (/\btemporal\b.*\bstart-dev\b/.test(command)) return 'temporal';
  if (/\bminio\b/.test(command)) return 'minio';
  // The simulated devices' DTLS sessions (src/simulator/dtls-tunnels.ts).
  if (command.includes('dtls-tunnels')) return 'fleet';
  if (/\bpostgres\b/.test(command)) return 'postgres';
  if (/\bmosquitto\b/.test(command)) return 'broker';
  return 'other';
}

function machineSeconds(): { busy: number; steal: number; total: number } {
  const cpu =
    readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const total = cpu.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const steal = cpu[7] ?? 0;
  return {
    busy: (total - idle - steal) / TICKS_PER_SECOND,
    steal: steal / TICKS_PER_SECOND,
    total: total / TICKS_PER_SECOND,
  };
}

/** CPU time so far of every process in the benchmark's tree, by component; null without /proc. */
export function cpuSnapshot(): CpuSnapshot | null {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return null;
  }
  const stats = new Map<number, ProcStat>();
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat) stats.set(pid, stat);
  }
  const children = new Map<number, number[]>();
  for (const stat of stats.values()) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat.pid]);
  const subtreeSeconds = (pid: number): number =>
    (stats.get(pid)?.seconds ?? 0) +
    (children.get(pid) ?? []).reduce((sum, child) => sum + subtreeSeconds(child), 0);

  const seconds = Object.fromEntries(COMPONENTS.map((component) => [component, 0])) as Record<
    Component,
    number
  >;
  const own = process.cpuUsage();
  seconds.fleet = (own.user + own.system) / 1e6;
  for (const child of children.get(process.pid) ?? []) {
    seconds[componentOf(child)] += subtreeSeconds(child);
  }
  const machine = machineSeconds();
  return {
    atMs: Date.now(),
    seconds,
    machineBusyS: machine.busy,
    machineStealS: machine.steal,
    machineTotalS: machine.total,
  };
}

/** The phase between two snapshots, its CPU per unit of work (`units`: upgrades, grants). */
export function phaseCpu(from: CpuSnapshot | null, to: CpuSnapshot | null, units: number): PhaseCpu | null {
  if (!from || !to || units <= 0) return null;
  const perUnit = (seconds: number) => Math.round(((seconds * 1000) / units) * 100) / 100;
  const used = Object.fromEntries(
    COMPONENTS.map((component) => [component, Math.max(0, to.seconds[component] - from.seconds[component])]),
  ) as Record<Component, number>;
  const ours = COMPONENTS.reduce((sum, component) => sum + used[component], 0);
  const busy = to.machineBusyS - from.machineBusyS;
  const steal = to.machineStealS - from.machineStealS;
  const total = to.machineTotalS - from.machineTotalS;
  const pct = (seconds: number) => (total > 0 ? Math.round((seconds / total) * 1000) / 10 : 0);
  return {
    wall_s: Math.round((to.atMs - from.atMs) / 100) / 10,
    machine_busy_pct: pct(busy),
    steal_pct: pct(steal),
    outside_s: Math.round(Math.max(0, busy - ours) * 10) / 10,
    ms_per_unit: {
      ...(Object.fromEntries(COMPONENTS.map((component) => [component, perUnit(used[component])])) as Record<
        Component,
        number
      >),
      total: perUnit(ours),
    },
  };
}

/**
 * The LwM2M gateway's block-wise package serving under load: N devices (1,000 by default) download
 * the same package from otaflow's CoAP server at once, each over its own UDP socket with the
 * simulator's client (`downloadBlockwise`: one confirmable GET per Block2 block, RFC 7252
 * retransmission), as NB-IoT devices do after their upgrade notification. No workflow is involved:
 * this measures the gateway's serving alone — blocks per second, the otaflow process's memory with N
 * downloads open, and the CPU each block costs.
 *
 * Over `dtls`, each device is provisioned with a pre-shared key and first opens its DTLS session
 * (components/dtls-tunnels, all N at once: handshakes per second), then downloads through it; the
 * server side adds the DTLS terminator, whose memory is counted beside otaflow's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { downloadBlockwise } from '../src/lwm2m/block-download';
import { packagePath } from '../src/lwm2m/package-blocks';
import { type DtlsTunnel, startDtlsTunnels } from '../src/simulator/dtls-tunnels';
import { cpuSnapshot, type PhaseCpu, phaseCpu } from './cpu';
import { phaseBar, progressBars, uploadPackage } from './mqtt-scenario';
import type { BenchStack } from './stack';
import { percentile, round } from './stats';
import { createTimedApi } from './timed-api';

export interface CoapScenarioOptions {
  downloads: number;
  packageKb: number;
  blockSize: number;
  transport: 'coap' | 'dtls';
}

export interface CoapScenarioResult {
  transport: 'coap' | 'dtls';
  downloads: number;
  package_kb: number;
  block_size: number;
  completed: number;
  failed: number;
  blocks: number;
  /** Blocks received by all devices ÷ the time from the first request to the last block. */
  coap_blocks_per_s: number | null;
  wall_s: number;
  /** Devices downloading at the same moment, at most. */
  peak_concurrent: number;
  download_s: { p50: number | null; p99: number | null };
  /** The otaflow process: RSS before, and its peak while the downloads ran. */
  rss_mb: { before: number; peak: number };
  /** CPU milliseconds per block, by process (cpu.ts). */
  cpu_per_block: PhaseCpu | null;
  /** Over DTLS: the N handshakes, all started at once. */
  handshakes: {
    completed: number;
    per_s: number | null;
    ms: { p50: number | null; p99: number | null };
  } | null;
  /** Over DTLS: the terminator process's RSS before the handshakes and its peak during the run. */
  terminator_rss_mb: { before: number; peak: number } | null;
}

export async function runCoapScenario(
  stack: BenchStack,
  options: CoapScenarioOptions,
): Promise<CoapScenarioResult> {
  const api = createTimedApi(stack.api, stack.apiKey);
  const runId = Date.now().toString(36);
  const { id, sha256 } = await uploadPackage(api, `BM-coap-${runId}`, '2.0.0', options.packageKb);
  const path = packagePath(id, sha256);
  const szx = Math.log2(options.blockSize) - 4;
  const blocksPerDownload = Math.ceil((options.packageKb * 1024) / options.blockSize);

  const before = await stack.platformRss();
  stack.resetPlatformRss();
  const terminator = options.transport === 'dtls' ? sampleTerminatorRss() : undefined;
  let servers: string[] = Array.from({ length: options.downloads }, () => stack.lwm2m);
  let handshakes: CoapScenarioResult['handshakes'] = null;
  const tunnels =
    options.transport === 'dtls' ? startDtlsTunnels(stack.lwm2mDtls.replace('coaps://', '')) : undefined;
  if (tunnels) {
    const opened = await openTunnels(api, tunnels, options.downloads, runId);
    servers = opened.tunnels.map((tunnel) => `coap://127.0.0.1:${tunnel.port}`);
    handshakes = opened.handshakes;
  }

  const bars = progressBars();
  const bar = phaseBar(bars, options.transport === 'dtls' ? 'coap/dtls' : 'coap     ', options.downloads);
  let active = 0;
  let peakConcurrent = 0;
  const durations: number[] = [];
  let completed = 0;
  let failed = 0;
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  try {
    await Promise.all(
      servers.map(async (server) => {
        active += 1;
        peakConcurrent = Math.max(peakConcurrent, active);
        const downloadStarted = performance.now();
        try {
          const result = await downloadBlockwise({ uri: `${server}${path}`, szx });
          if (result.ok && result.sha256 === sha256) {
            completed += 1;
            durations.push((performance.now() - downloadStarted) / 1000);
          } else failed += 1;
        } catch {
          failed += 1;
        } finally {
          active -= 1;
          bar.increment();
        }
      }),
    );
  } finally {
    bars.stop();
    await tunnels?.stop();
  }
  const wallS = (performance.now() - started) / 1000;
  const blocks = completed * blocksPerDownload;
  const cpu = phaseCpu(cpuBefore, cpuSnapshot(), blocks);
  const peak = await stack.platformRss();
  return {
    transport: options.transport,
    downloads: options.downloads,
    package_kb: options.packageKb,
    block_size: options.blockSize,
    completed,
    failed,
    blocks,
    coap_blocks_per_s: round(blocks / wallS, 0),
    wall_s: round(wallS, 1) ?? wallS,
    peak_concurrent: peakConcurrent,
    download_s: { p50: round(percentile(durations, 50), 2), p99: round(percentile(durations, 99), 2) },
    rss_mb: { before: Math.round(before.currentMb), peak: Math.round(peak.peakMb) },
    cpu_per_block: cpu,
    handshakes,
    terminator_rss_mb: terminator?.stop() ?? null,
  };
}

/** N devices with pre-shared keys, and their DTLS sessions opened all at once. */
async function openTunnels(
  api: ReturnType<typeof createTimedApi>,
  tunnels: ReturnType<typeof startDtlsTunnels>,
  count: number,
  runId: string,
): Promise<{ tunnels: DtlsTunnel[]; handshakes: NonNullable<CoapScenarioResult['handshakes']> }> {
  const keyed: { id: string; pskKey: string }[] = [];
  for (let from = 0; from < count; from += 10_000) {
    const devices = Array.from({ length: Math.min(10_000, count - from) }, (_, index) => ({
      id: `BM-dtls-${runId}-${from + index}`,
      protocol: 'lwm2m',
      product: 'BM',
      model: `BM-dtls-${runId}`,
      lwm2mSecurity: 'psk',
    }));
    const created = await api.post<{ items: { id: string; pskKey: string }[] }>(
      '/v1/devices/bulk',
      { devices },
      'POST /v1/devices/bulk',
    );
    keyed.push(...created.items);
  }
  const bars = progressBars();
  const bar = phaseBar(bars, 'handshake', count);
  const started = performance.now();
  const opened = await Promise.all(
    keyed.map((device) =>
      tunnels.open({ id: device.id, identity: device.id, key: device.pskKey }).finally(() => bar.increment()),
    ),
  ).finally(() => bars.stop());
  const wallS = (performance.now() - started) / 1000;
  const ms = opened.map((tunnel) => tunnel.handshakeMs);
  return {
    tunnels: opened,
    handshakes: {
      completed: opened.length,
      per_s: round(opened.length / wallS, 0),
      ms: { p50: round(percentile(ms, 50), 1), p99: round(percentile(ms, 99), 1) },
    },
  };
}

/** The DTLS terminator's RSS (a child of otaflow's process), sampled every 250 ms until stopped. */
function sampleTerminatorRss(): { stop(): { before: number; peak: number } } {
  const pid = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .find((name) => {
      try {
        return readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('dtls-terminator\0--listen');
      } catch {
        return false;
      }
    });
  const rssMb = () => {
    const status = pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  };
  const before = rssMb();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      return { before: Math.round(before), peak: Math.round(Math.max(peak, rssMb())) };
    },
  };
}

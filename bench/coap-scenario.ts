/**
 * The LwM2M gateway's block-wise package serving under load: N devices (1,000 by default) download
 * the same package from otaflow's CoAP server at once, each over its own UDP socket with the
 * simulator's client (`downloadBlockwise`: one confirmable GET per Block2 block, RFC 7252
 * retransmission), as NB-IoT devices do after their upgrade notification. No workflow is involved:
 * this measures the gateway's serving alone — blocks per second, the otaflow process's memory with N
 * downloads open, and the CPU each block costs.
 */
import { downloadBlockwise } from '../src/lwm2m/block-download';
import { packagePath } from '../src/lwm2m/package-blocks';
import { cpuSnapshot, type PhaseCpu, phaseCpu } from './cpu';
import { phaseBar, progressBars, uploadPackage } from './mqtt-scenario';
import type { BenchStack } from './stack';
import { percentile, round } from './stats';
import { createTimedApi } from './timed-api';

export interface CoapScenarioOptions {
  downloads: number;
  packageKb: number;
  blockSize: number;
}

export interface CoapScenarioResult {
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
}

export async function runCoapScenario(
  stack: BenchStack,
  options: CoapScenarioOptions,
): Promise<CoapScenarioResult> {
  const api = createTimedApi(stack.api, stack.apiKey);
  const runId = Date.now().toString(36);
  const { id, sha256 } = await uploadPackage(api, `BM-coap-${runId}`, '2.0.0', options.packageKb);
  const uri = `${stack.lwm2m}${packagePath(id, sha256)}`;
  const szx = Math.log2(options.blockSize) - 4;
  const blocksPerDownload = Math.ceil((options.packageKb * 1024) / options.blockSize);

  const bars = progressBars();
  const bar = phaseBar(bars, 'coap     ', options.downloads);
  const before = await stack.platformRss();
  stack.resetPlatformRss();
  let active = 0;
  let peakConcurrent = 0;
  const durations: number[] = [];
  let completed = 0;
  let failed = 0;
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: options.downloads }, async () => {
        active += 1;
        peakConcurrent = Math.max(peakConcurrent, active);
        const downloadStarted = performance.now();
        try {
          const result = await downloadBlockwise({ uri, szx });
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
  }
  const wallS = (performance.now() - started) / 1000;
  const blocks = completed * blocksPerDownload;
  const cpu = phaseCpu(cpuBefore, cpuSnapshot(), blocks);
  const peak = await stack.platformRss();
  return {
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
  };
}

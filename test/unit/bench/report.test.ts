import { describe, expect, it } from 'vitest';
import { againstRelay, overheads, type RelayRun, targets } from '../../../bench/ratios.js';
import { table } from '../../../bench/report.js';

const run = (ours: [number, number], relay: [number, number], verifyUs?: number, load = 1): RelayRun => ({
  ours: { cpuMicrosPerMessage: ours[0], deliveriesPerCpuSec: ours[1] },
  relay: { cpuMicrosPerMessage: relay[0], deliveriesPerCpuSec: relay[1] },
  verifyUs,
  loadAverage: load,
});

describe('bench figures against the coalescing relay', () => {
  it('a ratio to the relay is taken run by run, then the median of the runs', () => {
    // run by run: 0.5, 0.25, 0.6; a ratio of the medians would be 50,000 / 200,000 = 0.25
    const runs = [
      run([100, 50_000], [50, 100_000], undefined, 2),
      run([100, 40_000], [50, 160_000], undefined, 3),
      run([100, 120_000], [50, 200_000], undefined, 7),
    ];
    const figures = againstRelay(runs);
    expect(figures.ratioToRelay.median).toBe(0.5);
    expect(figures.ratioToRelay.runs).toEqual([0.5, 0.25, 0.6]);
    expect(figures.relayDeliveriesPerCpuSec.median).toBe(160_000);
    expect(figures.loadAverage).toEqual({ median: 3, spread: 5, runs: [2, 3, 7] });
  });

  it("a scheme's overhead is ours less the relay's and one verification, and its ratio leaves the verification out", () => {
    const figures = overheads([run([400, 0], [100, 0], 60), run([500, 0], [120, 0], 80)]);
    expect(figures.overheadMicrosPerMessage.runs).toEqual([240, 300]);
    expect(figures.overheadToRelay.runs).toEqual([3.4, 3.5]);
  });

  it('the targets say met, not met, or not measured (a quick run has no chat of 1,000)', () => {
    const fig = (median: number) => ({ median, spread: 0, runs: [median] });
    expect(
      targets({
        scheme: { ed25519: { overheadToRelay: fig(3) } },
        growth: { '100': { ratioToRelay: fig(0.5) } },
      }),
    ).toEqual({ ratioToRelayAt100: true, ratioToRelayAt1000: undefined, chatOf10WithinThreeRelays: true });
    expect(
      targets({
        scheme: { ed25519: { overheadToRelay: fig(3.01) } },
        growth: { '100': { ratioToRelay: fig(0.49) }, '1000': { ratioToRelay: fig(0.7) } },
      }),
    ).toEqual({ ratioToRelayAt100: false, ratioToRelayAt1000: true, chatOf10WithinThreeRelays: false });
  });

  it('the report gives the ratios, the relay and the load average of every figure', () => {
    const fig = (median: number) => ({ median, spread: 1, runs: [median] });
    const md = table({
      command: 'npm run bench -- --quick --throughput',
      machine: { cpus: 2, model: 'cpu', memoryGiB: 8, node: 'v20', loadAverage: [1.5, 2, 3] },
      pinning: { used: false },
      repeats: 3,
      minTicks: 100,
      scheme: {
        ed25519: {
          acceptedPerSec: fig(1000),
          deliveriesPerCpuSec: fig(20_000),
          ratioToRelay: fig(0.4),
          cpuMicrosPerMessage: fig(300),
          relayCpuMicrosPerMessage: fig(100),
          verifyMicros: fig(60),
          overheadMicrosPerMessage: fig(140),
          overheadToRelay: fig(2.4),
          loadAverage: fig(4.2),
        },
      },
      growth: {
        '100': {
          acceptedPerSec: fig(500),
          deliveriesPerCpuSec: fig(200_000),
          relayDeliveriesPerCpuSec: fig(350_000),
          ratioToRelay: fig(0.571),
          cpuMicrosPerMessage: fig(500),
          relayCpuMicrosPerMessage: fig(280),
          dbBytesPerMessage: fig(950),
          postedJsonBytes: 566,
          loadAverage: fig(5.5),
        },
      },
      targets: { ratioToRelayAt100: true, ratioToRelayAt1000: undefined, chatOf10WithinThreeRelays: true },
    });
    expect(md).toContain(
      '| ed25519 | 1000 ± 1 | 20000 ± 1 | 0.4 ± 1 | 300 ± 1 | 100 ± 1 | 60 ± 1 | 140 ± 1 | 2.4 ± 1 | 4.2 ± 1 |',
    );
    expect(md).toContain(
      '| 100 | 500 ± 1 | 200000 ± 1 | 350000 ± 1 | 0.571 ± 1 | 500 ± 1 | 280 ± 1 | 950 ± 1 | 566 | 5.5 ± 1 |',
    );
    expect(md).toContain('load average 1.5 / 2 / 3 at the start');
    expect(md).toContain('at a chat of 100 met, at 1,000 not measured');
    // sections the run skipped are left out, not printed as undefined
    expect(md).not.toContain('undefined');
    expect(md).not.toContain('Latency');
  });
});

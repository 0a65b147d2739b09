/**
 * Every throughput figure as a ratio to the coalescing relay (bench/relay.ts) measured in the same
 * run: on a shared machine absolute figures move with the load, ratios taken run by run much less.
 * Each ratio is taken per run (ours and the relay's back to back), then the median of the runs.
 */
import { type Figure, figure } from './measure.js';

/** What one window measured of a process. */
export interface Measured {
  cpuMicrosPerMessage: number;
  deliveriesPerCpuSec: number;
}

/** One repeat: ours and the relay's windows back to back, and the 1-minute load average then. */
export interface RelayRun {
  ours: Measured;
  relay: Measured;
  loadAverage: number;
  /** One signature verification's CPU µs, measured in the same repeat (per scheme only). */
  verifyUs?: number;
}

export interface AgainstRelay {
  relayCpuMicrosPerMessage: Figure;
  relayDeliveriesPerCpuSec: Figure;
  /** Our deliveries per server CPU-second ÷ the relay's (issue 28: ≥ 0.5 at chats of 100 and 1,000). */
  ratioToRelay: Figure;
  /** The machine's 1-minute load average as each repeat began. */
  loadAverage: Figure;
}

export function againstRelay(runs: RelayRun[]): AgainstRelay {
  return {
    relayCpuMicrosPerMessage: figure(runs.map((r) => r.relay.cpuMicrosPerMessage)),
    relayDeliveriesPerCpuSec: figure(
      runs.map((r) => r.relay.deliveriesPerCpuSec),
      0,
    ),
    ratioToRelay: figure(
      runs.map((r) => r.ours.deliveriesPerCpuSec / r.relay.deliveriesPerCpuSec),
      3,
    ),
    loadAverage: figure(
      runs.map((r) => r.loadAverage),
      2,
    ),
  };
}

export interface Overheads {
  /** Ours − the relay's − one verification, CPU µs per message. */
  overheadMicrosPerMessage: Figure;
  /** (Ours − one verification) ÷ the relay's CPU µs per message (issue 28: ≤ 3 in a chat of 10). */
  overheadToRelay: Figure;
}

export function overheads(runs: RelayRun[]): Overheads {
  const verify = (r: RelayRun) => r.verifyUs ?? 0;
  return {
    overheadMicrosPerMessage: figure(
      runs.map((r) => r.ours.cpuMicrosPerMessage - r.relay.cpuMicrosPerMessage - verify(r)),
    ),
    overheadToRelay: figure(
      runs.map((r) => (r.ours.cpuMicrosPerMessage - verify(r)) / r.relay.cpuMicrosPerMessage),
      2,
    ),
  };
}

/** Issue 28's targets, read from a run's figures: each true, false, or undefined when not measured. */
export function targets(r: {
  scheme?: Record<string, Partial<Overheads>>;
  growth?: Record<string, Partial<AgainstRelay>>;
}) {
  const atLeastHalf = (size: string) => {
    const ratio = r.growth?.[size]?.ratioToRelay?.median;
    return ratio === undefined ? undefined : ratio >= 0.5;
  };
  const ten = r.scheme?.ed25519?.overheadToRelay?.median;
  return {
    ratioToRelayAt100: atLeastHalf('100'),
    ratioToRelayAt1000: atLeastHalf('1000'),
    chatOf10WithinThreeRelays: ten === undefined ? undefined : ten <= 3,
  };
}

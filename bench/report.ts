/** The bench's results as Markdown tables (bench/results/latest.md, and the README's). */

// biome-ignore lint/suspicious/noExplicitAny: the results object is ours, built by bench/run.ts
type Any = any;

const f = (x: { median: number; spread: number } | undefined) => (x ? `${x.median} ± ${x.spread}` : '—');
const yes = (met: boolean | undefined) => (met === undefined ? 'not measured' : met ? 'met' : 'NOT met');

export function table(r: Record<string, Any>): string {
  const lines = [
    `Reproduce: \`${r.command}\` — ${r.machine.cpus} CPUs (${r.machine.model}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; ` +
      `pinning: ${r.pinning.used ? `server on ${r.pinning.server}, load on ${r.pinning.load} (taskset)` : 'not used'}; ` +
      `each figure the median of ${r.repeats} runs ± their spread (largest − smallest), windows of at least ${r.minTicks} ticks of server CPU; ` +
      `load average ${r.machine.loadAverage.join(' / ')} at the start${r.loadAverageAtEnd ? `, ${r.loadAverageAtEnd.join(' / ')} at the end` : ''}.`,
    '',
  ];
  lines.push(
    'Per scheme, chat of 10, closed loop, against the coalescing relay (bench/relay.ts) in the same run; CPU µs per accepted message (`overhead = ours − relay − verify`, `÷ relay = (ours − verify) ÷ relay`):',
    '',
    "| scheme | accepted msg/s | deliveries per server CPU-s | ÷ relay's | server CPU µs/msg | relay CPU µs/msg | verify µs | overhead µs/msg | (ours − verify) ÷ relay | load average |",
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const [alg, s] of Object.entries<Any>(r.scheme)) {
    lines.push(
      `| ${alg} | ${f(s.acceptedPerSec)} | ${f(s.deliveriesPerCpuSec)} | ${f(s.ratioToRelay)} | ${f(s.cpuMicrosPerMessage)} | ${f(s.relayCpuMicrosPerMessage)} | ${f(s.verifyMicros)} | ${f(s.overheadMicrosPerMessage)} | ${f(s.overheadToRelay)} | ${f(s.loadAverage)} |`,
    );
  }
  const naive = Object.entries<Any>(r.scheme).filter(([, s]) => s.naiveCpuMicrosPerMessage);
  if (naive.length > 0)
    lines.push(
      '',
      `The naive relay (bench/naive-relay.ts), CPU µs/msg: ${naive.map(([alg, s]) => `${alg} ${f(s.naiveCpuMicrosPerMessage)}`).join(', ')}.`,
    );
  if (r.latency) {
    lines.push(
      '',
      `Latency, post to delivery, chat of 10, ${r.latency.scheme}, open loop (ms):`,
      '',
      '| rate/s | p50 | p99 | p99.9 |',
      '|---|---|---|---|',
    );
    for (const [rate, l] of Object.entries<Any>(r.latency))
      if (rate !== 'scheme') lines.push(`| ${rate} | ${l.p50} | ${l.p99} | ${l.p999} |`);
  }
  if (r.isolation)
    lines.push(
      '',
      `Isolation at 500/s: p99 quiet ${r.isolation.p99Quiet} ms, during a 50-login storm ${r.isolation.p99Storm} ms.`,
    );
  if (r.connections)
    lines.push(
      `Idle streams held: ${r.connections.held}, ${r.connections.bytesPerStream} bytes of server memory each.`,
    );
  lines.push(
    '',
    'By chat size, Ed25519, every member listening, closed loop; the relay with as many streams right after each run:',
    '',
    "| chat size | accepted msg/s | deliveries per server CPU-s | relay's | ratio to relay | server CPU µs/msg | relay CPU µs/msg | database bytes/msg | posted JSON bytes | load average |",
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const [size, g] of Object.entries<Any>(r.growth))
    lines.push(
      `| ${size} | ${f(g.acceptedPerSec)} | ${f(g.deliveriesPerCpuSec)} | ${f(g.relayDeliveriesPerCpuSec)} | ${f(g.ratioToRelay)} | ${f(g.cpuMicrosPerMessage)} | ${f(g.relayCpuMicrosPerMessage)} | ${f(g.dbBytesPerMessage)} | ${g.postedJsonBytes} | ${f(g.loadAverage)} |`,
    );
  if (r.targets)
    lines.push(
      '',
      `Issue 28's targets (medians): deliveries per CPU-s ≥ 0.5 × the relay's at a chat of 100 ${yes(r.targets.ratioToRelayAt100)}, ` +
        `at 1,000 ${yes(r.targets.ratioToRelayAt1000)}; chat of 10, (ours − verify) ≤ 3 × the relay's ${yes(r.targets.chatOf10WithinThreeRelays)}.`,
    );
  if (r.history) {
    lines.push('', '| stored messages | history page (100) median ms | p99 ms |', '|---|---|---|');
    for (const [n, h] of Object.entries<Any>(r.history))
      lines.push(`| ${n} | ${h.pageMsMedian} | ${h.pageMsP99} |`);
  }
  return `${lines.join('\n')}\n`;
}

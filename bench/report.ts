/** The bench's results as Markdown tables (bench/results/latest.md, and the README's). */

// biome-ignore lint/suspicious/noExplicitAny: the results object is ours, built by bench/run.ts
type Any = any;

const f = (x: { median: number; spread: number }) => `${x.median} ± ${x.spread}`;

export function table(r: Record<string, Any>): string {
  const lines = [
    `Reproduce: \`${r.command}\` — ${r.machine.cpus} CPUs (${r.machine.model}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; ` +
      `pinning: ${r.pinning.used ? `server on ${r.pinning.server}, load on ${r.pinning.load} (taskset)` : 'not used'}; ` +
      `each figure the median of ${r.repeats} runs ± their spread (largest − smallest), windows of at least ${r.minTicks} ticks of server CPU.`,
    '',
  ];
  lines.push(
    'Per scheme, chat of 10, closed loop; CPU µs per accepted message (`overhead = ours − baseline − verify`):',
    '',
    '| scheme | accepted msg/s | deliveries per server CPU-s | server CPU µs/msg | baseline CPU µs/msg | verify µs | overhead µs/msg |',
    '|---|---|---|---|---|---|---|',
  );
  for (const [alg, s] of Object.entries<Any>(r.scheme)) {
    lines.push(
      `| ${alg} | ${f(s.acceptedPerSec)} | ${f(s.deliveriesPerCpuSec)} | ${f(s.cpuMicrosPerMessage)} | ${f(s.baselineCpuMicrosPerMessage)} | ${f(s.verifyMicros)} | ${f(s.overheadMicrosPerMessage)} |`,
    );
  }
  lines.push(
    '',
    `Latency, post to delivery, chat of 10, ${r.latency.scheme}, open loop (ms):`,
    '',
    '| rate/s | p50 | p99 | p99.9 |',
    '|---|---|---|---|',
  );
  for (const [rate, l] of Object.entries<Any>(r.latency))
    if (rate !== 'scheme') lines.push(`| ${rate} | ${l.p50} | ${l.p99} | ${l.p999} |`);
  lines.push(
    '',
    `Isolation at 500/s: p99 quiet ${r.isolation.p99Quiet} ms, during a 50-login storm ${r.isolation.p99Storm} ms.`,
  );
  lines.push(
    `Idle streams held: ${r.connections.held}, ${r.connections.bytesPerStream} bytes of server memory each.`,
  );
  lines.push(
    '',
    'By chat size, Ed25519, every member listening, closed loop:',
    '',
    '| chat size | accepted msg/s | deliveries per server CPU-s | server CPU µs/msg | database bytes/msg | posted JSON bytes |',
    '|---|---|---|---|---|---|',
  );
  for (const [size, g] of Object.entries<Any>(r.growth))
    lines.push(
      `| ${size} | ${f(g.acceptedPerSec)} | ${f(g.deliveriesPerCpuSec)} | ${f(g.cpuMicrosPerMessage)} | ${f(g.dbBytesPerMessage)} | ${g.postedJsonBytes} |`,
    );
  lines.push('', '| stored messages | history page (100) median ms | p99 ms |', '|---|---|---|');
  for (const [n, h] of Object.entries<Any>(r.history))
    lines.push(`| ${n} | ${h.pageMsMedian} | ${h.pageMsP99} |`);
  return `${lines.join('\n')}\n`;
}

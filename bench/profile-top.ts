/**
 * `node --import tsx bench/profile-top.ts <file.cpuprofile> [n]`: the top `n` (default 25) entries
 * of a V8 CPU profile (from `npm run bench -- --quick --profile`) by self time, and by total time
 * of the functions whose names are given in BENCH_PROFILE_TOTALS (comma-separated), as a share of
 * the samples that were not idle.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const [file, n = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const where = (node: Node) => {
  const url = node.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/').replace(/^node:/, '');
  return `${node.callFrame.functionName || '(anonymous)'} ${url}:${node.callFrame.lineNumber + 1}`;
};
const self = new Map<string, number>();
const total = new Map<string, number>();
let busy = 0;
for (const id of profile.samples) {
  const node = byId.get(id) as Node;
  if (node.callFrame.functionName === '(idle)') continue;
  busy += 1;
  self.set(where(node), (self.get(where(node)) ?? 0) + 1);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = (byId.get(at) as Node).callFrame.functionName;
    if (!seen.has(name)) total.set(name, (total.get(name) ?? 0) + 1);
    seen.add(name);
  }
}
const pct = (x: number) => `${((100 * x) / busy).toFixed(1)}%`;
console.log(`${busy} busy samples`);
for (const [name, count] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n)))
  console.log(`${pct(count).padStart(6)}  ${name}`);
const totals = (process.env.BENCH_PROFILE_TOTALS ?? '').split(',').filter(Boolean);
if (totals.length > 0) console.log('\ntotal (self and below):');
for (const name of totals) console.log(`${pct(total.get(name) ?? 0).padStart(6)}  ${name}`);

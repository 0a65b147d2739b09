/** What the server's figures are measured against, in the same run: the relays, and one verification. */
import { spawn } from 'node:child_process';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import path from 'node:path';
import type { KeyPairSet, SignatureAlgorithm } from '../src/crypto/keys.js';
import { signSync } from '../src/crypto/signatures.js';
import type { Pinning } from './measure.js';

/** CPU µs one verification takes on one thread (a second of them), measured in this run. */
export function verifyMicros(pairs: KeyPairSet, alg: SignatureAlgorithm): number {
  const data = randomBytes(400);
  const sig = signSync(alg, pairs.signing[alg].privateKey, data);
  const key = createPublicKey(pairs.signing[alg].publicKey);
  // biome-ignore lint/suspicious/noExplicitAny: the options object per scheme, as in src/crypto/signatures.ts
  const opts: any = alg === 'rsa-pss-sha256' ? { key, padding: 6, saltLength: 32 } : { key };
  let n = 0;
  // CPU time, not wall time: on a shared machine the wait for a CPU is not verification
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    verify(alg === 'ed25519' ? null : 'sha256', data, opts, sig);
    n++;
  }
  const cpu = process.cpuUsage(c0);
  return (cpu.user + cpu.system) / n;
}

export interface BaselineProcess {
  url: string;
  pid: number;
}

/**
 * A relay in its own process, pinned beside the server: `relay` is the coalescing one (the baseline,
 * bench/relay.ts), `naive-relay` the one that writes a string per stream per event.
 */
export async function startRelay(
  root: string,
  pin: Pinning,
  cleanup: (() => void)[],
  which: 'relay' | 'naive-relay' = 'relay',
): Promise<BaselineProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, `bench/${which}.ts`)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.push(() => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve) => {
    child.stdout?.on('data', (d) => {
      const m = /listening on (\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    });
  });
  pin.server0(child.pid as number);
  return { url, pid: child.pid as number };
}

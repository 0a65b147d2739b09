import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Fingerprints, type SafetyParty, safetyNumber } from '../../../src/client/index.js';

const fps = (seed: string): Fingerprints => ({
  encryption: createHash('sha256').update(`${seed} encryption`).digest('hex'),
  'rsa-pss-sha256': createHash('sha256').update(`${seed} rsa`).digest('hex'),
  'dsa-sha256': createHash('sha256').update(`${seed} dsa`).digest('hex'),
  ed25519: createHash('sha256').update(`${seed} ed25519`).digest('hex'),
});
const alice: SafetyParty = { username: 'alice', fingerprints: fps('alice') };
const bob: SafetyParty = { username: 'bob', fingerprints: fps('bob') };

/** The derivation as docs/how-it-works.md writes it, with node:crypto (another client's view). */
function asDocumented(a: SafetyParty, b: SafetyParty): string {
  const all = (f: Fingerprints) =>
    createHash('sha256')
      .update(
        `encryption=${f.encryption}\nrsa-pss-sha256=${f['rsa-pss-sha256']}\ndsa-sha256=${f['dsa-sha256']}\ned25519=${f.ed25519}`,
      )
      .digest('hex');
  const lines = [`${a.username}:${all(a.fingerprints)}`, `${b.username}:${all(b.fingerprints)}`].sort();
  const digest = createHash('sha512')
    .update(['securechat-safety-number-v1', ...lines].join('\n'))
    .digest();
  const groups: string[] = [];
  for (let i = 0; i < 12; i++) groups.push(String(digest.readUIntBE(i * 5, 5) % 100000).padStart(5, '0'));
  return groups.join(' ');
}

describe('safety numbers', () => {
  it('are 60 digits in 12 groups of 5, as documented, for a known pair', async () => {
    const number = await safetyNumber(alice, bob);
    expect(number).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(number).toBe(asDocumented(alice, bob));
    // the known vector: a change of the derivation shows here
    expect(number).toBe(KNOWN);
  });

  it('are the same on both sides', async () => {
    expect(await safetyNumber(bob, alice)).toBe(await safetyNumber(alice, bob));
  });

  it('change when any fingerprint of either user, or a name, changes', async () => {
    const base = await safetyNumber(alice, bob);
    for (const who of [alice, bob])
      for (const key of Object.keys(who.fingerprints) as (keyof Fingerprints)[]) {
        const changed = { ...who, fingerprints: { ...who.fingerprints, [key]: fps('mallory')[key] } };
        const other = who === alice ? bob : alice;
        expect(await safetyNumber(changed, other), `${who.username} ${key}`).not.toBe(base);
      }
    expect(await safetyNumber({ ...alice, username: 'alicia' }, bob)).not.toBe(base);
  });
});

const KNOWN = '36328 85218 74160 22020 84868 36432 36606 91322 79975 60301 74405 88848';

import type { SignatureAlgorithm } from '../src/crypto/keys.js';

export const SCHEME_NAMES: Record<string, SignatureAlgorithm> = {
  rsa: 'rsa-pss-sha256',
  dsa: 'dsa-sha256',
  ed25519: 'ed25519',
  'rsa-pss-sha256': 'rsa-pss-sha256',
  'dsa-sha256': 'dsa-sha256',
};

export function shortScheme(alg: string): string {
  return { 'rsa-pss-sha256': 'rsa', 'dsa-sha256': 'dsa', ed25519: 'ed25519' }[alg] ?? alg;
}

export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toTimeString().slice(0, 8);
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { generateKeyPairSet } from '../../src/crypto/keys.js';
import { writeKeyStore } from '../../src/crypto/keystore.js';
import { buildWeb } from '../../web/build.js';

export const FIXTURE_USERS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;

declare module 'vitest' {
  export interface ProvidedContext {
    fixtureKeys: string;
  }
}

/** Key stores for the test users, made once per run (RSA-2048 to keep it quick) and shared. */
export default async function setup(project: TestProject) {
  // the web client, built once per run as `npm start` builds it (src/plugins/web.ts serves it)
  await buildWeb();
  const dir = await mkdtemp(path.join(tmpdir(), 'securechat-fixture-'));
  await Promise.all(
    FIXTURE_USERS.map(async (u) =>
      writeKeyStore(path.join(dir, 'users', u), await generateKeyPairSet({ rsaBits: 2048 })),
    ),
  );
  project.provide('fixtureKeys', dir);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../bootstrap/backends.js';
import { loadConfig } from '../config.js';
import {
  checkPublicKeySet,
  generateKeyPairSet,
  KeyCheckError,
  type KeyPairSet,
  type PublicKeySet,
  publicKeysOf,
} from '../crypto/keys.js';
import { PUBLIC_KEY_FILES, readPublicKeys, userKeyStoreDir, writeKeyStore } from '../crypto/keystore.js';
import { loginLimits } from '../plugins/accounts.js';
import { checkNewPassword, createAccounts, RESERVED_USERNAMES, USERNAME } from '../services/accounts.js';
import { UserExistsError } from '../store/user-types.js';
import { promptHidden, readStdin } from '../util/prompt.js';

const USAGE = `Usage: npm run user:add -- <username> [--password-stdin] [--public-keys DIR]

Registers a user: a bcrypt hash of the password and the user's four public keys.

  --password-stdin    read the password from standard input instead of prompting
  --public-keys DIR   register the *.pub.pem of a key store made elsewhere (the user's own
                      machine): DIR holds encryption.pub.pem, signing-rsa.pub.pem,
                      signing-dsa.pub.pem and signing-ed25519.pub.pem, or is a keys folder with
                      them in DIR/users/<username>/. Without it a new key store is made in
                      $SECURECHAT_KEYS_DIR/users/<username>/ (private keys mode 0600)

Passwords must be 8 to 72 UTF-8 bytes long (bcrypt ignores anything past 72, so longer ones
are refused rather than silently truncated). Uses SECURECHAT_DATA_DIR, SECURECHAT_KEYS_DIR and
BCRYPT_COST like the server; the server may be running.`;

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/**
 * The folder `--public-keys DIR` names: DIR itself when it holds the four public key files, or
 * DIR/users/NAME/ (a keys folder as the CLI lays it out). Otherwise says which files are missing.
 */
async function publicKeyFolder(dir: string, username: string): Promise<string> {
  if (!(await exists(dir))) throw new Error(`--public-keys ${dir}: no such folder`);
  const layouts = [dir, userKeyStoreDir(dir, username)];
  const missing = await Promise.all(
    layouts.map(async (folder) => {
      const found = await Promise.all(PUBLIC_KEY_FILES.map((file) => exists(path.join(folder, file))));
      return PUBLIC_KEY_FILES.filter((_, i) => !found[i]);
    }),
  );
  const complete = missing.findIndex((files) => files.length === 0);
  if (complete >= 0) return layouts[complete];
  const expected = `${PUBLIC_KEY_FILES.join(', ')} in ${dir} or in ${layouts[1]}`;
  if (missing.every((files) => files.length === PUBLIC_KEY_FILES.length))
    throw new Error(`--public-keys ${dir}: no public keys found; expected ${expected}`);
  const closest = missing[0].length <= missing[1].length ? 0 : 1;
  throw new Error(`--public-keys ${dir}: ${layouts[closest]} lacks ${missing[closest].join(', ')}`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      'password-stdin': { type: 'boolean', default: false },
      'public-keys': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) throw new Error(`give exactly one username\n\n${USAGE}`);
  const [username] = positionals;
  if (!USERNAME.test(username)) throw new Error(`username must match ${USERNAME.source}`);
  if (RESERVED_USERNAMES.has(username)) throw new Error(`the username ${username} is reserved`);
  const config = loadConfig();

  // Everything that can be checked is checked before asking for a password.
  let keys: PublicKeySet | undefined;
  let dir = userKeyStoreDir(config.keysDir, username);
  if (values['public-keys']) {
    dir = await publicKeyFolder(values['public-keys'], username);
    keys = await readPublicKeys(dir);
    try {
      checkPublicKeySet(keys);
    } catch (error) {
      if (error instanceof KeyCheckError) throw new Error(`${dir}: ${error.message}`);
      throw error;
    }
  } else if (await exists(dir)) {
    throw new Error(`${dir} already exists; register it with --public-keys ${dir}`);
  }

  const store = await openStore(config, { warn: console.warn, error: console.error });
  try {
    const accounts = createAccounts({
      store,
      bcryptCost: config.bcryptCost,
      tokenTtlSeconds: config.tokenTtl,
      ...loginLimits(config),
      signToken: () => {
        throw new Error('no tokens here');
      },
    });
    if (await accounts.exists(username)) throw new Error(`user ${username} already exists`);

    let password: string;
    if (values['password-stdin']) password = await readStdin();
    else {
      password = await promptHidden(`Password for ${username}: `);
      if ((await promptHidden('Again: ')) !== password) throw new Error('the passwords differ');
    }
    checkNewPassword(password);

    let pairs: KeyPairSet | undefined;
    if (!keys) {
      console.error('generating keys (RSA-3072, DSA-2048/256, Ed25519)…');
      pairs = await generateKeyPairSet();
      keys = publicKeysOf(pairs);
    }
    await accounts.register(username, password, keys);
    if (pairs) await writeKeyStore(dir, pairs);
    console.log(`registered ${username}; key store: ${dir}`);
  } finally {
    await store.close();
  }
}

main().catch((error) => {
  const message = error instanceof UserExistsError || error instanceof Error ? error.message : String(error);
  console.error(`user:add: ${message}`);
  process.exit(1);
});

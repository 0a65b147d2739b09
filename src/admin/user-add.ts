import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { openStore } from '../backends.js';
import { loadConfig } from '../config.js';
import { generateKeyPairSet, publicKeysOf } from '../crypto/keys.js';
import { readPublicKeys, userKeyStoreDir, writeKeyStore } from '../crypto/keystore.js';
import { checkNewPassword, createAccounts, USERNAME } from '../services/accounts.js';
import { UserExistsError } from '../store/types.js';
import { promptHidden, readStdin } from '../util/prompt.js';

const USAGE = `Usage: npm run user:add -- <username> [--password-stdin] [--public-keys DIR]

Registers a user: a bcrypt hash of the password and the user's four public keys.

  --password-stdin    read the password from standard input instead of prompting
  --public-keys DIR   register the *.pub.pem of a key store made elsewhere (the user's own
                      machine); without it a new key store is made in
                      $SECURECHAT_KEYS_DIR/users/<username>/ (private keys mode 0600)

Passwords must be 8 to 72 UTF-8 bytes long (bcrypt ignores anything past 72, so longer ones
are refused rather than silently truncated). Uses SECURECHAT_DATA_DIR, SECURECHAT_KEYS_DIR and
BCRYPT_COST like the server; the server may be running.`;

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
  const config = loadConfig();

  let password: string;
  if (values['password-stdin']) password = await readStdin();
  else {
    password = await promptHidden(`Password for ${username}: `);
    if ((await promptHidden('Again: ')) !== password) throw new Error('the passwords differ');
  }
  checkNewPassword(password);

  const store = await openStore(config, { warn: console.warn, error: console.error });
  try {
    const accounts = createAccounts({
      store,
      bcryptCost: config.bcryptCost,
      tokenTtlSeconds: config.tokenTtl,
      signToken: () => {
        throw new Error('no tokens here');
      },
    });
    if (await accounts.exists(username)) throw new Error(`user ${username} already exists`);
    let keys: Awaited<ReturnType<typeof readPublicKeys>>;
    let pairs: Awaited<ReturnType<typeof generateKeyPairSet>> | undefined;
    const dir = values['public-keys'] ?? userKeyStoreDir(config.keysDir, username);
    if (values['public-keys']) keys = await readPublicKeys(dir);
    else {
      if (
        await stat(dir).then(
          () => true,
          () => false,
        )
      ) {
        throw new Error(`${dir} already exists; register it with --public-keys ${dir}`);
      }
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

import { MENU } from './interactive.js';

/** `securechat --help`. */
export const HELP = `securechat — end-to-end encrypted, signed group chat

Usage:
  securechat [options]                  the interactive menu
  securechat [options] <command> [args] one action, then log out

Options:
  --server URL        the server (default $SECURECHAT_SERVER or http://127.0.0.1:8080)
  --user NAME         who you are (default $SECURECHAT_USER)
  --ca FILE           trust this CA or self-signed certificate for an https server (default $SECURECHAT_CA)
  --keys DIR          the key store folder holding users/<NAME>/ (default $SECURECHAT_KEYS_DIR,
                      else $XDG_DATA_HOME/securechat, else ~/.securechat)
  --insecure          send the password over plain http:// to a host that is not this machine
  --password-stdin    read the password from the first line of standard input (else it is prompted)
  --code CODE         register: the one-time registration code from your administrator (default
                      $SECURECHAT_REGISTER_CODE, else asked on a terminal; on a shared machine
                      prefer those: other users can read a command line while it runs)
  --force             keygen: replace an existing key store (what was sent to the old keys is lost)
  --json              print results as JSON (commands only)
  --chat ID           the chat (a full id or a unique prefix) for invite, leave, send, history, listen
  --sig rsa|dsa|ed25519  the signature scheme for send (default: your saved setting, rsa at first)
  --limit N           how many messages history shows (default 20)
  -h, --help          this help

Your own keys and account (no login needed):
  keygen              make your key store (four key pairs) in --keys DIR/users/<--user>/;
                      refuses to replace one without --force; prints the fingerprints
  keygen --export-public DIR
                      copy the public halves of your key store to DIR, for an administrator's
                      \`npm run user:add -- NAME --public-keys DIR\`
  register [--code CODE]
                      register --user with the code your administrator made
                      (\`npm run user:invite -- NAME\`): makes the key store first if there is
                      none, asks for a new password twice (or --password-stdin); then log in

One-shot commands (securechat [options] <command>):
  status <user>       online or not, and when last seen
  online              who is online
  users               every user with their presence
  chats               your chats
  chat <users…>       start a chat (prints its id; says who was offline or unknown); with
                      --members, only its members' clients make its keys: the server cannot read it
  invite <users…>     invite to --chat
  join [chatId]       accept an invitation (no id needed when there is one)
  leave               leave --chat
  send <text…>        send to --chat (prints the message's seq)
  history             the last --limit messages of --chat, verified and decrypted
  listen              print events (and verified messages) until Ctrl-C
  fingerprint [user]  key fingerprints (yours and the server's, or a user's); works when the
                      server's key changed, showing the pinned and the new one
  trust <user> FP     accept a user's changed keys: FP is the "all keys" fingerprint that
                      \`fingerprint <user>\` shows, compared with the user out of band
  trust --server FP   accept the server's changed key, once its operator confirmed FP
  decrypt             teaching aid: unwrap a key envelope (--envelope FILE or stdin, or
                      --wrapped BASE64) with --user's key store and print the chat key in hex;
                      --server-key FILE checks the server's signature first

${MENU}`;

import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import {
  Api,
  Client,
  importUserKeys,
  MemoryStores,
  MemoryTranscriptStore,
  type MessageData,
  type WarningChange,
} from '../../src/client/index.js';
import { nodeSignatures } from '../../src/client/node/index.js';
import type { Rule } from './cli-proxy.js';
import { PASSWORD } from './helper.js';
import { keyStore } from './library.js';

/** A library client of a fixture user, its stores in memory (give `transcripts` to restart it over them). */
export async function libraryClient(
  server: string,
  username: string,
  stores = { keys: new MemoryStores(), transcripts: new MemoryTranscriptStore() },
) {
  const provider = nodeSignatures();
  const client = await Client.login({
    api: new Api({ server }),
    username,
    password: PASSWORD,
    keys: await importUserKeys(await keyStore(username), provider),
    provider,
    pins: stores.keys,
    epochs: stores.keys,
    transcripts: stores.transcripts,
  });
  return { client, stores };
}

/**
 * Reads the chat's history after what the client has checked, as a client catching up does: each
 * message verified, then through the transcript checks. Returns every warning change.
 */
export async function catchUp(client: Client, chatId: string): Promise<WarningChange[]> {
  const changes: WarningChange[] = [];
  let after = 0;
  for (;;) {
    const page = await client.api.listMessages(chatId, { after, limit: 1000 });
    const messages = (page?.messages ?? []) as MessageData[];
    if (messages.length === 0) return changes;
    for (const m of messages) {
      const r = await client.transcript.receive(m, await client.verify(m, chatId));
      changes.push(...r.changes);
    }
    const last = messages.at(-1)?.seq ?? after;
    if (last <= after) return changes; // a server that does not move forward is not followed
    after = last;
  }
}

export const texts = (changes: WarningChange[]) => changes.map((c) => `${c.status}: ${c.warning.text}`);

/**
 * A proxy rule that passes `GET /chats/{id}/messages` through and hands the page to `edit` before
 * it is answered: what a server lying about history does.
 */
export function editHistory(upstream: string, edit: (messages: MessageData[]) => MessageData[]): Rule {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' || !/^\/chats\/[^/]+\/messages(\?|$)/.test(req.url ?? '')) return false;
    req.resume();
    const up = await request(upstream + req.url, {
      headers: { authorization: String(req.headers.authorization) },
    });
    const body = (await up.body.json()) as { messages?: MessageData[] };
    res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type']) });
    res.end(JSON.stringify(up.statusCode === 200 ? { messages: edit(body.messages ?? []) } : body));
    return true;
  };
}

/** A rule that lets a post through to the server and then answers it with a refusal all the same. */
export function storeButRefuse(upstream: string): Rule {
  return async (req, res) => {
    if (req.method !== 'POST' || !/^\/chats\/[^/]+\/messages$/.test(req.url ?? '')) return false;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const up = await request(upstream + req.url, {
      method: 'POST',
      headers: { authorization: String(req.headers.authorization), 'content-type': 'application/json' },
      body: Buffer.concat(chunks),
    });
    await up.body.dump();
    res.writeHead(400, { 'content-type': 'application/problem+json' });
    res.end(
      JSON.stringify({ type: 'about:blank', title: 'x', status: 400, detail: 'clock', code: 'CLOCK_SKEW' }),
    );
    return true;
  };
}

/** The username a request's bearer token is for (its JWT `sub`), or undefined. */
export function userOf(req: IncomingMessage): string | undefined {
  const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
  try {
    return JSON.parse(Buffer.from(token?.split('.')[1] ?? '', 'base64url').toString('utf8')).sub;
  } catch {
    return undefined;
  }
}

/** `rule`, applied only to the requests of `user` (the one member a server lies to). */
export const forUser =
  (user: string, rule: Rule): Rule =>
  (req, res) =>
    userOf(req) === user && rule(req, res);

/**
 * A proxy rule that passes the event stream (`GET /events`) through and leaves out each `message`
 * event that `drop` picks: what a server withholding a message from one stream does.
 */
export function editStream(upstream: string, drop: (data: MessageData) => boolean): Rule {
  return async (req, res) => {
    if (req.method !== 'GET' || !/^\/events(\?|$)/.test(req.url ?? '')) return false;
    req.resume();
    const headers = { ...req.headers };
    for (const h of ['host', 'connection', 'content-length']) delete headers[h];
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    try {
      const up = await request(upstream + req.url, { headers, signal: abort.signal });
      const out = { ...up.headers };
      delete out['transfer-encoding'];
      delete out.connection;
      res.writeHead(up.statusCode, out as Record<string, string>);
      res.flushHeaders();
      let buffered = '';
      const decoder = new TextDecoder();
      for await (const chunk of up.body) {
        buffered += decoder.decode(chunk, { stream: true });
        let end = buffered.indexOf('\n\n');
        for (; end >= 0; end = buffered.indexOf('\n\n')) {
          const frame = buffered.slice(0, end + 2);
          buffered = buffered.slice(end + 2);
          if (!dropped(frame, drop)) res.write(frame);
        }
      }
      res.end();
    } catch {
      res.destroy();
    }
    return true;
  };
}

function dropped(frame: string, drop: (data: MessageData) => boolean): boolean {
  if (!/^event: message$/m.test(frame)) return false;
  const data = /^data: (.*)$/m.exec(frame)?.[1];
  try {
    return drop(JSON.parse(data ?? '') as MessageData);
  } catch {
    return false;
  }
}

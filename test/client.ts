import { createPublicKey, type KeyObject, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { request } from 'undici';
import { open, seal } from '../src/crypto/aead.js';
import { fromBase64, toBase64 } from '../src/crypto/base64.js';
import { messageAad, messageSigningInput } from '../src/crypto/canonical.js';
import { type KeyEnvelope, openEnvelope } from '../src/crypto/envelope.js';
import type { KeyPairSet, SignatureAlgorithm } from '../src/crypto/keys.js';
import { readKeyStore } from '../src/crypto/keystore.js';
import { signSync, verifyAsync } from '../src/crypto/signatures.js';
import { loadSpec } from '../src/spec.js';
import type { MessageRecord } from '../src/store/types.js';

export const spec = loadSpec();
const ajv = new Ajv({ strict: false, allErrors: true });
(formats as unknown as { default: typeof formats.default }).default(ajv);
const validators = new Map<string, ValidateFunction>();

function validatorFor(key: string, schema: object): ValidateFunction {
  const v = validators.get(key) ?? ajv.compile(schema);
  validators.set(key, v);
  return v;
}

/** Checks a body against a named schema of openapi.yaml; throws with ajv's errors when it fails. */
export function assertSchema(name: string, value: unknown): void {
  const validate = validatorFor(`#${name}`, spec.component(name));
  if (!validate(value))
    throw new Error(
      `${name} does not match openapi.yaml: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`,
    );
}

export interface ApiResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked against the spec instead
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | number>;
  body?: unknown;
  /** Sent as is (with its content type), instead of JSON of `body`. */
  rawBody?: string;
  headers?: Record<string, string>;
  token?: string | null;
}

/**
 * A client written from openapi.yaml: every response's status must be documented for its
 * operation and its body must match the documented schema, or the call throws.
 */
export class Api {
  token?: string;

  constructor(readonly base: string) {}

  async call(operationId: string, options: CallOptions = {}): Promise<ApiResponse> {
    const op = spec.operations.find((o) => o.operationId === operationId);
    if (!op) throw new Error(`no operation ${operationId} in openapi.yaml`);
    let url = op.path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(options.params?.[name] ?? ''));
    if (options.query)
      url += `?${new URLSearchParams(Object.entries(options.query).map(([k, v]) => [k, String(v)]))}`;
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.token : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await request(this.base + url, { method: op.method, headers, body });
    const text = await res.body.text();
    const type = String(res.headers['content-type'] ?? '');
    const parsed = text && /json/.test(type) ? JSON.parse(text) : text;
    const documented = op.responses[String(res.statusCode)];
    if (!documented) {
      throw new Error(
        `${operationId} answered ${res.statusCode}, which openapi.yaml does not document: ${text}`,
      );
    }
    if (documented.contentType && !type.startsWith(documented.contentType)) {
      throw new Error(`${operationId} ${res.statusCode} came as ${type}, not ${documented.contentType}`);
    }
    if (documented.schema) {
      const validate = validatorFor(`${operationId}/${res.statusCode}`, documented.schema);
      if (!validate(parsed)) {
        throw new Error(
          `${operationId} ${res.statusCode} body does not match openapi.yaml: ${ajv.errorsText(validate.errors)}\n${text}`,
        );
      }
    }
    return { status: res.statusCode, body: parsed, headers: res.headers };
  }
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed data, validated against the *Event schemas
  json?: any;
}

const EVENT_SCHEMA: Record<string, string> = {
  presence: 'PresenceEvent',
  'chat.invited': 'ChatInvitedEvent',
  'chat.key': 'ChatKeyEvent',
  'member.joined': 'MemberEvent',
  'member.left': 'MemberEvent',
  message: 'MessageEvent',
  resync: 'ResyncEvent',
};

/** A reader of GET /events that parses the stream and lets a test wait for an event. */
export class EventStream {
  readonly events: SseEvent[] = [];
  private taken = new Set<SseEvent>();
  private waiters: (() => void)[] = [];
  ended = false;
  readonly done: Promise<void>;
  private abort = new AbortController();

  private constructor(private readonly body: AsyncIterable<Buffer>) {
    this.done = this.read();
  }

  static async open(base: string, token: string, lastEventId?: string): Promise<EventStream> {
    const abort = new AbortController();
    const res = await request(`${base}/events`, {
      headers: {
        authorization: `Bearer ${token}`,
        ...(lastEventId !== undefined && { 'last-event-id': lastEventId }),
      },
      bodyTimeout: 0,
      signal: abort.signal,
    });
    if (res.statusCode !== 200)
      throw new Error(`GET /events answered ${res.statusCode}: ${await res.body.text()}`);
    const stream = new EventStream(res.body);
    stream.abort = abort;
    stream.headers = res.headers;
    return stream;
  }

  headers: Record<string, string | string[] | undefined> = {};

  private async read(): Promise<void> {
    let buffer = '';
    try {
      for await (const chunk of this.body) {
        buffer += chunk.toString('utf8');
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          this.push(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted or cut by the server: the stream is over either way
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private push(block: string): void {
    const event: SseEvent = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) event.comment = line.slice(1).trim();
      else {
        const colon = line.indexOf(':');
        const field = line.slice(0, colon);
        const value = line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id' || field === 'event' || field === 'data') event[field] = value;
      }
    }
    if (event.data !== undefined) {
      event.json = JSON.parse(event.data);
      const schema = event.event && EVENT_SCHEMA[event.event];
      if (!schema) throw new Error(`unknown event type ${event.event}`);
      assertSchema(schema, event.json);
    }
    this.events.push(event);
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The first event not yet taken that matches; waits for it if need be (fails after `ms`). */
  async next(match: (e: SseEvent) => boolean, ms = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.find((e) => !this.taken.has(e) && match(e));
      if (found) {
        this.taken.add(found);
        return found;
      }
      if (this.ended) throw new Error(`stream ended before a matching event; got ${this.summary()}`);
      const wait = new Promise<void>((resolve) => this.waiters.push(resolve));
      const timeout = deadline - Date.now();
      if (timeout <= 0) throw new Error(`no matching event within ${ms} ms; got ${this.summary()}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([wait, new Promise((resolve) => (timer = setTimeout(resolve, timeout)))]);
      clearTimeout(timer);
    }
  }

  /** What arrived, briefly (an error message must not carry megabytes of ciphertext). */
  private summary(): string {
    return `${this.events.length} events: ${this.events
      .slice(-8)
      .map((e) => e.event ?? `:${e.comment}`)
      .join(', ')}`;
  }

  /** Waits for the next untaken event of `type` (and matching `where`). */
  async nextOf(type: string, where: (json: SseEvent['json']) => boolean = () => true, ms?: number) {
    return this.next((e) => e.event === type && where(e.json), ms);
  }

  close(): void {
    this.abort.abort();
  }
}

/** A chat participant: keys from a key store, verify-then-unwrap envelopes, seal-and-sign messages. */
export class Participant {
  readonly api: Api;
  serverKey!: KeyObject;
  keys!: KeyPairSet;
  readonly chatKeys = new Map<string, Buffer>();
  private readonly peerKeys = new Map<string, Record<SignatureAlgorithm, KeyObject>>();
  sessionId = '';

  constructor(
    readonly base: string,
    readonly username: string,
  ) {
    this.api = new Api(base);
  }

  static async login(
    base: string,
    keysDir: string,
    username: string,
    password: string,
  ): Promise<Participant> {
    const p = new Participant(base, username);
    p.keys = await readKeyStore(path.join(keysDir, 'users', username));
    const res = await p.api.call('login', { body: { username, password } });
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
    p.api.token = res.body.token;
    const key = await p.api.call('getServerKey');
    p.serverKey = createPublicKey(key.body.publicKey);
    return p;
  }

  events(lastEventId?: string): Promise<EventStream> {
    return EventStream.open(this.base, this.api.token as string, lastEventId);
  }

  /** Verifies the server's signature, then unwraps with the private encryption key. */
  async acceptEnvelope(envelope: KeyEnvelope): Promise<Buffer> {
    if (envelope.recipient !== this.username) throw new Error('envelope is for someone else');
    const key = await openEnvelope(this.serverKey, this.keys.encryption.privateKey, envelope);
    this.chatKeys.set(`${envelope.chatId}/${envelope.epoch}`, key);
    return key;
  }

  /** A signed, sealed message body for POST /chats/{id}/messages. */
  compose(
    chatId: string,
    epoch: number,
    text: string,
    alg: SignatureAlgorithm,
    options: { sentAt?: string; id?: string; signWith?: string } = {},
  ) {
    const key = this.chatKeys.get(`${chatId}/${epoch}`);
    if (!key) throw new Error(`${this.username} has no key for ${chatId} epoch ${epoch}`);
    const header = {
      chatId,
      epoch,
      sender: this.username,
      id: options.id ?? randomUUID(),
      sentAt: options.sentAt ?? new Date().toISOString(),
    };
    const parts = seal(key, Buffer.from(text, 'utf8'), messageAad(header));
    const privateKey = options.signWith ?? this.keys.signing[alg].privateKey;
    const signature = toBase64(signSync(alg, privateKey, messageSigningInput(header, parts)));
    return { id: header.id, epoch, sentAt: header.sentAt, ...parts, signatureAlgorithm: alg, signature };
  }

  async send(chatId: string, epoch: number, text: string, alg: SignatureAlgorithm) {
    const body = this.compose(chatId, epoch, text, alg);
    const res = await this.api.call('postMessage', { params: { chatId }, body });
    return { res, body };
  }

  private async signingKeysOf(username: string) {
    let keys = this.peerKeys.get(username);
    if (!keys) {
      const res = await this.api.call('getUserKeys', { params: { username } });
      const pems = res.body.signingKeys as Record<SignatureAlgorithm, string>;
      keys = {
        'rsa-pss-sha256': createPublicKey(pems['rsa-pss-sha256']),
        'dsa-sha256': createPublicKey(pems['dsa-sha256']),
        ed25519: createPublicKey(pems.ed25519),
      };
      this.peerKeys.set(username, keys);
    }
    return keys;
  }

  /** What a recipient does with a `message` event: verify the signature itself, then decrypt. */
  async read(data: Pick<MessageRecord, 'chatId' | 'sender' | 'message'>): Promise<string> {
    const m = data.message;
    const header = { chatId: data.chatId, epoch: m.epoch, sender: data.sender, id: m.id, sentAt: m.sentAt };
    const keys = await this.signingKeysOf(data.sender);
    const signature = fromBase64(m.signature);
    if (
      !signature ||
      !(await verifyAsync(
        m.signatureAlgorithm,
        keys[m.signatureAlgorithm],
        messageSigningInput(header, m),
        signature,
      ))
    ) {
      throw new Error('signature does not verify');
    }
    const key = this.chatKeys.get(`${data.chatId}/${m.epoch}`);
    if (!key) throw new Error(`no key for epoch ${m.epoch}`);
    return open(key, m, messageAad(header)).toString('utf8');
  }
}

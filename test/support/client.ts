import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { request } from 'undici';
import {
  checkedKeySet,
  importChatKey,
  importEncryptionKey,
  importServerKey,
  type KeyEnvelope,
  type KeyHandle,
  type MessageData,
  messageScheme,
  openMessage,
  readBlocks,
  type SignatureAlgorithm,
  type SseBlock,
  unwrapChatKeyBytes,
  verifyEnvelopeSignature,
  verifyMessageSignature,
} from '../../src/client/index.js';
import { nodeSignatures } from '../../src/client/node/index.js';
import { seal } from '../../src/crypto/aead.js';
import { toBase64 } from '../../src/crypto/base64.js';
import { messageAad, messageSigningInput, type TranscriptFields } from '../../src/crypto/canonical.js';
import type { KeyPairSet } from '../../src/crypto/keys.js';
import { readKeyStore } from '../../src/crypto/keystore.js';
import { signSync } from '../../src/crypto/signatures.js';
import { loadSpec } from '../../src/spec.js';

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

export interface SseEvent extends SseBlock {
  // biome-ignore lint/suspicious/noExplicitAny: parsed data, validated against the *Event schemas
  json?: any;
}

const EVENT_SCHEMA: Record<string, string> = {
  presence: 'PresenceEvent',
  'chat.invited': 'ChatInvitedEvent',
  'chat.created': 'ChatCreatedEvent',
  'chat.key': 'ChatKeyEvent',
  'chat.rekey': 'ChatRekeyEvent',
  'member.joined': 'MemberEvent',
  'member.left': 'MemberEvent',
  message: 'MessageEvent',
  'account.keys': 'AccountKeysEvent',
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

  /** The library's SSE reader; each block is checked against the spec's event schemas. */
  private async read(): Promise<void> {
    try {
      await readBlocks(this.body, (block) => this.push(block), Number.POSITIVE_INFINITY);
    } catch {
      // aborted or cut by the server: the stream is over either way
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private push(block: SseBlock): void {
    const event: SseEvent = { ...block };
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

/**
 * A chat participant on the client library (verify-then-unwrap, verify-then-open), with what only
 * tests need: raw chat keys to compare, and a synchronous forger of message bodies (any id, time or
 * signing key) for probing the server's checks.
 */
export class Participant {
  readonly api: Api;
  serverKey!: CryptoKey;
  keys!: KeyPairSet;
  readonly chatKeys = new Map<string, Buffer>();
  private readonly provider = nodeSignatures();
  private encryptionKey!: CryptoKey;
  private readonly peerKeys = new Map<string, Record<SignatureAlgorithm, KeyHandle>>();
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
    p.encryptionKey = await importEncryptionKey(p.keys.encryption.privateKey);
    const res = await p.api.call('login', { body: { username, password } });
    if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
    p.api.token = res.body.token;
    const key = await p.api.call('getServerKey');
    p.serverKey = (await importServerKey(key.body.publicKey)).key;
    return p;
  }

  events(lastEventId?: string): Promise<EventStream> {
    return EventStream.open(this.base, this.api.token as string, lastEventId);
  }

  /** Verifies the server's signature, then unwraps with the private encryption key. */
  async acceptEnvelope(envelope: KeyEnvelope): Promise<Buffer> {
    if (envelope.recipient !== this.username) throw new Error('envelope is for someone else');
    if (!(await verifyEnvelopeSignature(this.serverKey, envelope)))
      throw new Error('key envelope signature is invalid');
    const key = Buffer.from(await unwrapChatKeyBytes(this.encryptionKey, envelope.wrappedKey));
    this.chatKeys.set(`${envelope.chatId}/${envelope.epoch}`, key);
    return key;
  }

  /**
   * A signed, sealed message body for POST /chats/{id}/messages, made synchronously with
   * node:crypto so that a test can forge it (`signWith` another key, any `id` or `sentAt`).
   */
  compose(
    chatId: string,
    epoch: number,
    text: string,
    alg: SignatureAlgorithm,
    options: { sentAt?: string; id?: string; signWith?: string; transcript?: TranscriptFields } = {},
  ) {
    const key = this.chatKeys.get(`${chatId}/${epoch}`);
    if (!key) throw new Error(`${this.username} has no key for ${chatId} epoch ${epoch}`);
    const header = {
      chatId,
      epoch,
      sender: this.username,
      id: options.id ?? randomUUID(),
      sentAt: options.sentAt ?? new Date().toISOString(),
      transcript: options.transcript,
    };
    const parts = seal(key, Buffer.from(text, 'utf8'), messageAad(header));
    const privateKey = options.signWith ?? this.keys.signing[alg].privateKey;
    const signature = toBase64(signSync(alg, privateKey, messageSigningInput(header, parts)));
    return {
      id: header.id,
      epoch,
      sentAt: header.sentAt,
      ...parts,
      signatureAlgorithm: alg,
      signature,
      ...options.transcript,
    };
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
      keys = (await checkedKeySet(this.provider, res.body.encryptionKey, res.body.signingKeys)).keys;
      this.peerKeys.set(username, keys);
    }
    return keys;
  }

  /** What a recipient does with a `message` event: verify the signature itself, then decrypt. */
  async read(data: Pick<MessageData, 'chatId' | 'sender' | 'message'>): Promise<string> {
    const message = data as MessageData;
    const alg = messageScheme(message, data.chatId);
    const keys = await this.signingKeysOf(data.sender);
    if (!(await verifyMessageSignature(this.provider, keys[alg], message)))
      throw new Error('signature does not verify');
    const key = this.chatKeys.get(`${data.chatId}/${data.message.epoch}`);
    if (!key) throw new Error(`no key for epoch ${data.message.epoch}`);
    return openMessage(await importChatKey(new Uint8Array(key)), message);
  }
}

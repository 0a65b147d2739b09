/**
 * The naive relay (the bench's baseline before issue 28, kept beside bench/relay.ts for comparison):
 * a bare Fastify app that accepts a POST and writes it to every SSE stream as a string, one
 * `res.write` per stream per event, with no authentication, verification or storage. Run as its
 * own process (`npm run bench -- --naive` measures it too).
 */
import type { ServerResponse } from 'node:http';
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
const streams = new Set<ServerResponse>();
let seq = 0;

app.get('/events', (request, reply) => {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  reply.raw.write(': connected\n\n');
  streams.add(reply.raw);
  request.raw.on('close', () => streams.delete(reply.raw));
});

app.post('/chats/:chatId/messages', async (request, reply) => {
  seq += 1;
  const data = JSON.stringify({
    chatId: (request.params as { chatId: string }).chatId,
    seq,
    message: request.body,
  });
  const chunk = `id: ${seq}\nevent: message\ndata: ${data}\n\n`;
  for (const stream of streams) stream.write(chunk);
  return reply.status(201).send({ seq });
});

app.listen({ port: 0, host: '127.0.0.1' }).then((address) => {
  console.log(`listening on ${address} (API docs`);
});

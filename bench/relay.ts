/**
 * The baseline for the throughput figures: a relay that does nothing but fan out, written the way a
 * fast fan-out is written. A bare Fastify app takes each POST and frames its event once, as one
 * Buffer; the events that arrive within one turn of the event loop go to each stream in one write
 * (after the turn's I/O, in `setImmediate`). No authentication, verification or storage. Run as its
 * own process; bench/naive-relay.ts is the one that writes a string per stream per event.
 */
import type { ServerResponse } from 'node:http';
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
const streams = new Set<ServerResponse>();
let seq = 0;
/** The events of this turn, framed, and whether their write is scheduled. */
let turn: Buffer[] = [];
let scheduled = false;

function flush(): void {
  scheduled = false;
  const chunk = turn.length === 1 ? turn[0] : Buffer.concat(turn);
  turn = [];
  for (const stream of streams) stream.write(chunk);
}

app.get('/events', (request, reply) => {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  reply.raw.write(': connected\n\n');
  request.raw.socket.setNoDelay(true);
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
  turn.push(Buffer.from(`id: ${seq}\nevent: message\ndata: ${data}\n\n`));
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
  return reply.status(201).send({ seq });
});

app.listen({ port: 0, host: '127.0.0.1' }).then((address) => {
  console.log(`listening on ${address} (API docs`);
});

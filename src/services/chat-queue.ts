import { unavailable } from '../errors.js';

/** Changes that may wait for one chat on this instance; more are answered 503 at once. */
const MAX_QUEUED = 64;

/** Runs changes to one chat one at a time, in arrival order. */
export function chatQueue() {
  const queues = new Map<string, { tail: Promise<void>; size: number }>();
  return async function serialized<T>(chatId: string, work: () => Promise<T>): Promise<T> {
    const queue = queues.get(chatId) ?? { tail: Promise.resolve(), size: 0 };
    if (queue.size >= MAX_QUEUED)
      throw unavailable('This chat has too many membership changes waiting; try again shortly.', 1);
    queues.set(chatId, queue);
    queue.size += 1;
    const before = queue.tail;
    let done = () => {};
    queue.tail = new Promise((resolve) => {
      done = resolve;
    });
    await before;
    try {
      return await work();
    } finally {
      queue.size -= 1;
      if (queue.size === 0) queues.delete(chatId);
      done();
    }
  };
}

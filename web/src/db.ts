/**
 * One IndexedDB object store of values by key. CryptoKeys are stored as they are (structured
 * clone): a non-extractable key stays non-extractable, so the page can use it after a reload
 * but nothing can read it out.
 */
const NAME = 'securechat';
const STORE = 'kv';

let opened: Promise<IDBDatabase> | undefined;

function db(): Promise<IDBDatabase> {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function run<T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  const tx = (await db()).transaction(STORE, mode);
  const request = op(tx.objectStore(STORE));
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(request.result as T);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const idbGet = <T>(key: string) => run<T | undefined>('readonly', (s) => s.get(key));
export const idbPut = (key: string, value: unknown) => run<void>('readwrite', (s) => s.put(value, key));
export const idbDelete = (key: string) => run<void>('readwrite', (s) => s.delete(key));

/**
 * Reads, changes and writes one value in a single transaction: IndexedDB runs readwrite
 * transactions on a store one at a time, so two tabs changing the same value never lose each
 * other's change. `change` may throw to write nothing. Resolves with the value written.
 */
export async function idbUpdate<T>(key: string, change: (value: T | undefined) => T): Promise<T> {
  const tx = (await db()).transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  let written: T | undefined;
  let refused: unknown;
  const get = store.get(key);
  get.onsuccess = () => {
    try {
      written = change(get.result as T | undefined);
      store.put(written, key);
    } catch (error) {
      refused = error;
      tx.abort();
    }
  };
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(written as T);
    tx.onerror = () => reject(refused ?? tx.error);
    tx.onabort = () => reject(refused ?? tx.error);
  });
}

import { stat } from 'node:fs/promises';

/** Where bootstrap steps say what they made or reused. */
export type Log = { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };

export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

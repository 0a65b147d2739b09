import { createPublicKey } from 'node:crypto';

/** A tiny DER writer: enough to forge DSA public keys with chosen domain parameters. */
const der = (tag: number, body: Buffer): Buffer => {
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
};
const int = (v: bigint) => {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return der(0x02, Buffer.from(hex, 'hex'));
};
const DSA_OID = Buffer.from('06072a8648ce380401', 'hex'); // 1.2.840.10040.4.1
export function dsaPem(v: { p: bigint; q: bigint; g: bigint; y: bigint }): string {
  const params = der(0x30, Buffer.concat([int(v.p), int(v.q), int(v.g)]));
  const spki = der(
    0x30,
    Buffer.concat([
      der(0x30, Buffer.concat([DSA_OID, params])),
      der(0x03, Buffer.concat([Buffer.from([0]), int(v.y)])),
    ]),
  );
  return createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({
    type: 'spki',
    format: 'pem',
  }) as string;
}

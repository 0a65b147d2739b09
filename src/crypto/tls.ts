import { createPublicKey, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface CertificateOptions {
  /** PKCS#8 PEM of the RSA key the certificate is for. */
  privateKey: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  days?: number;
}

/**
 * A self-signed X.509 certificate (Node cannot make one; node-forge can) for local TLS: SHA-256,
 * subjectAltName for localhost and the loopback addresses, serverAuth only. Clients trust it by
 * pinning the certificate file itself (curl --cacert, securechat --ca).
 */
export function selfSignedCertificate(options: CertificateOptions): string {
  const { privateKey, dnsNames = ['localhost'], ipAddresses = ['127.0.0.1', '::1'], days = 825 } = options;
  const key = forge.pki.privateKeyFromPem(privateKey);
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // A positive 128-bit serial (RFC 5280 allows up to 20 octets).
  cert.serialNumber = `01${randomBytes(16).toString('hex')}`;
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
  const name = [
    { name: 'commonName', value: dnsNames[0] ?? 'localhost' },
    { name: 'organizationName', value: 'Secure Chat (self-signed)' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...dnsNames.map((value) => ({ type: 2, value })),
        ...ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './helper.js';

const NGINX = '/usr/sbin/nginx';
const SHIPPED = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../deploy/nginx/securechat.conf',
);

/** A port the OS says is free now (nginx takes no port 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Nginx {
  /** https://127.0.0.1:<port>, the TLS server of the shipped file. */
  url: string;
  /** http://127.0.0.1:<port>, its plain-HTTP server (a redirect). */
  plainUrl: string;
  /** The certificate nginx serves (self-signed, for localhost and 127.0.0.1): what clients trust. */
  ca: string;
  /** Its prefix folder: `logs/access.log` has one JSON line per request (status, Retry-After). */
  root: string;
  /** The config file as rendered, to show in a failure. */
  rendered: string;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The shipped deploy/nginx/securechat.conf, rendered for a test: its two upstream servers become
 * `upstreams`, its listen ports free ports on 127.0.0.1 (IPv6 listens dropped), its certificate a
 * self-signed one; everything else is the file as shipped. Runs as any user: its own prefix, temp
 * folders, pid file and error log in a temp folder, in the foreground.
 */
export async function startNginx(upstreams: [string, string]): Promise<Nginx> {
  const root = await tempDir('securechat-nginx-');
  await chmod(root, 0o755);
  await mkdir(path.join(root, 'logs'));
  const cert = path.join(root, 'cert.pem');
  const key = path.join(root, 'key.pem');
  await promisify(execFile)('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
    ...['-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ...['-keyout', key, '-out', cert],
  ]);
  const [tlsPort, plainPort] = [await freePort(), await freePort()];
  const shipped = await readFile(SHIPPED, 'utf8');
  const replace = (text: string, from: RegExp, to: string) => {
    if (!from.test(text)) throw new Error(`the shipped nginx config has no ${from}`);
    return text.replace(from, to);
  };
  let site = shipped;
  site = replace(site, /server 127\.0\.0\.1:3001 /, `server ${upstreams[0]} `);
  site = replace(site, /server 127\.0\.0\.1:3002 /, `server ${upstreams[1]} `);
  site = replace(site, /listen 80;/, `listen 127.0.0.1:${plainPort};`);
  site = replace(site, /listen 443 ssl;/, `listen 127.0.0.1:${tlsPort} ssl;`);
  site = replace(site, /\n\s*listen \[::\]:80;/, '');
  site = replace(site, /\n\s*listen \[::\]:443 ssl;/, '');
  site = replace(site, /ssl_certificate \S+;/, `ssl_certificate ${cert};`);
  site = replace(site, /ssl_certificate_key \S+;/, `ssl_certificate_key ${key};`);
  await writeFile(path.join(root, 'securechat.conf'), site);
  const temp = (name: string) => path.join(root, `${name}_temp`);
  await writeFile(
    path.join(root, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${path.join(root, 'nginx.pid')};`,
      `error_log ${path.join(root, 'logs/error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  log_format json escape=json \'{"status":"$status","uri":"$request_uri",\'',
      '    \'"retryAfter":"$sent_http_retry_after","upstream":"$upstream_addr","upstreamStatus":"$upstream_status"}\';',
      `  access_log ${path.join(root, 'logs/access.log')} json;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((n) => `  ${n}_temp_path ${temp(n)};`),
      `  include ${path.join(root, 'securechat.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const errorLog = () => readFile(path.join(root, 'logs/error.log'), 'utf8').catch(() => '');
  const args = ['-p', root, '-c', path.join(root, 'nginx.conf'), '-e', path.join(root, 'logs/error.log')];
  await promisify(execFile)(NGINX, [...args, '-t']).catch((error) => {
    throw new Error(`nginx -t refused the rendered config: ${error.stderr}\n${site}`);
  });
  const child: ChildProcess = spawn(NGINX, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // listening once a connection to the TLS port is accepted
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${await errorLog()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(tlsPort, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `https://127.0.0.1:${tlsPort}`,
    plainUrl: `http://127.0.0.1:${plainPort}`,
    ca: await readFile(cert, 'utf8'),
    root,
    rendered: site,
    errorLog,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await exited;
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * How the server serves the web client: the page never cached and its hashed assets cached for a
 * year, under a CSP of the page's own; no browser needed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

describe('serving the web client', () => {
  it('serves / (never cached) and its hashed assets (cached for a year) under the CSP', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<style>| style=| on\w+=/); // nothing inline
    const assets = [...html.matchAll(/"\/assets\/([^"]+)"/g)].map((m) => m[1]);
    expect(assets).toEqual([
      expect.stringMatching(/^style-[A-Z0-9]{8}\.css$/),
      expect.stringMatching(/^app-[A-Z0-9]{8}\.js$/),
    ]);
    for (const asset of assets) {
      const res = await fetch(`${server.url}/assets/${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-type')).toMatch(
        asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
      );
      expect(await res.text()).not.toMatch(/\beval\(|new Function\(/);
    }
    for (const bad of ['nope.js', '..%2Fpackage.json', '..%2F..%2Fpackage.json', 'index.html']) {
      const res = await fetch(`${server.url}/assets/${bad}`);
      expect(res.status, bad).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await res.json()).code).toBe('NOT_FOUND');
    }
  });
});

describe('serving the web client: headers', () => {
  it('/ is sent with a CSP of its own: no inline style, no other origin, never framed', async () => {
    for (const url of [`${server.url}/`, `${server.url}/assets/nope.js`]) {
      const res = await fetch(url);
      await res.arrayBuffer();
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(
        csp.split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name, values.join(' ')] as const;
        }),
      );
      expect(directives.get('default-src'), url).toBe("'none'");
      expect(directives.get('script-src'), url).toBe("'self'");
      expect(directives.get('style-src'), url).toBe("'self'");
      expect(directives.get('connect-src'), url).toBe("'self'");
      expect(directives.get('frame-ancestors'), url).toBe("'none'");
      expect(directives.get('base-uri'), url).toBe("'none'");
      expect(directives.get('form-action'), url).toBe("'none'");
      expect(directives.get('require-trusted-types-for'), url).toBe("'script'");
      // one policy, the DSA key worker's URL (no duplicates); workers fall under script-src 'self'
      expect(directives.get('trusted-types'), url).toBe('securechat-dsa-worker securechat-session-worker');
      expect(directives.has('worker-src'), url).toBe(false);
      expect(directives.has('child-src'), url).toBe(false);
      expect(csp, url).not.toMatch(/unsafe|https:|\*/);
      expect(res.headers.get('x-frame-options'), url).toBe('DENY');
      expect(res.headers.get('x-content-type-options'), url).toBe('nosniff');
    }
    // HEAD answers as GET does, without the body
    const html = await (await fetch(`${server.url}/`)).text();
    const script = /"\/assets\/(app-[^"]+\.js)"/.exec(html)?.[1];
    for (const url of [`${server.url}/`, `${server.url}/assets/${script}`]) {
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status, url).toBe(200);
      expect(await head.text(), url).toBe('');
      expect(head.headers.get('content-type'), url).toMatch(/^text\/(html|javascript)/);
      expect(head.headers.get('content-security-policy'), url).toContain("default-src 'none'");
    }
  });
});

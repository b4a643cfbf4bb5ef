/** Where the app's server is (src/lib/client/server-base.ts): its own origin, or in an IWA the one the package names. */
import { describe, expect, it } from 'vitest';
import { serverBase } from '../../src/lib/client/server-base';

const doc = (content: string | null) => ({
  querySelector: (s: string) => (s === 'meta[name="teletrans-server"]' && content !== null ? { getAttribute: (n: string) => (n === 'content' ? content : null) } : null),
});

describe('serverBase', () => {
  it('the web app: relative URLs, whatever a meta says', () => {
    expect(serverBase(doc('https://evil.example'), { protocol: 'https:' })).toBe('');
    expect(serverBase(doc(null), { protocol: 'http:' })).toBe('');
  });

  it('an Isolated Web App: the HTTPS server its package names, nothing else', () => {
    expect(serverBase(doc('https://teletrans.example.org'), { protocol: 'isolated-app:' })).toBe('https://teletrans.example.org');
    expect(serverBase(doc('https://teletrans.example.org:8443'), { protocol: 'isolated-app:' })).toBe('https://teletrans.example.org:8443');
    for (const bad of ['http://teletrans.example.org', 'https://teletrans.example.org/path', 'javascript:alert(1)', '', 'https://a.example@b.example']) {
      expect(serverBase(doc(bad), { protocol: 'isolated-app:' }), bad).toBe('');
    }
    expect(serverBase(doc(null), { protocol: 'isolated-app:' })).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, type Env, isAllowedRedirect, SECTIONS } from '#shared/config';
import { callbackUrls, redirectTargetName, redirectUrl } from '#shared/connections/redirects';

const connectConfig = (env: Env) => SECTIONS.connect.read(env);

const config = connectConfig({
  REDIRECT_TARGETS: JSON.stringify({
    web: {
      success: 'https://app.example.com/connected?from=terra',
      failure: 'https://app.example.com/failed',
    },
    ios: { success: 'myapp://connected', failure: 'myapp://failed' },
  }),
});

describe('redirect targets', () => {
  it('maps a configured name to its URL and appends status, provider and user_id', () => {
    const url = redirectUrl(config, 'web', 'success', {
      status: 'active',
      provider: 'GARMIN',
      user_id: 'u-1',
    });
    expect(url).toBe(
      'https://app.example.com/connected?from=terra&status=active&provider=GARMIN&user_id=u-1',
    );
  });

  it('supports app deep links', () => {
    expect(redirectUrl(config, 'ios', 'failure', { status: 'cancelled' })).toBe(
      'myapp://failed?status=cancelled',
    );
  });

  it.each([
    'https://evil.example',
    '//evil.example',
    '\\\\evil.example',
    '/\\evil.example',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'https%3A%2F%2Fevil.example',
    'web\r\nLocation: https://evil.example',
    'wéb',
    '__proto__',
    'constructor',
    'toString',
    '',
  ])('falls back to the default target for %j', (name) => {
    expect(redirectTargetName(config, name)).toBe('web');
    const url = new URL(redirectUrl(config, name, 'success', { status: 'x' }));
    expect(url.origin).toBe('https://app.example.com');
  });

  it('keeps parameter values inside the query, whatever they contain', () => {
    const url = redirectUrl(config, 'web', 'failure', {
      status: 'error',
      user_id: 'x&redirect=https://evil.example\r\nSet-Cookie: a=b',
    });
    const parsed = new URL(url);
    expect(parsed.origin).toBe('https://app.example.com');
    expect(parsed.searchParams.get('user_id')).toBe('x&redirect=https://evil.example\r\nSet-Cookie: a=b');
    expect(url).not.toMatch(/[\r\n]/);
  });

  it('leaves out the parameters that have no value', () => {
    expect(
      redirectUrl(config, 'web', 'failure', { status: 'error', provider: undefined, user_id: undefined }),
    ).toBe('https://app.example.com/failed?status=error');
  });

  it("sends a request that names no target to the default, even when a target is called 'undefined'", () => {
    const settings = {
      redirectTargets: {
        web: { success: 'https://app.example.com/ok', failure: 'https://app.example.com/failed' },
        undefined: { success: 'https://other.example.com/ok', failure: 'https://other.example.com/failed' },
      },
      defaultRedirectTarget: 'web',
    };
    expect(redirectTargetName(settings, undefined)).toBe('web');
    expect(redirectUrl(settings, undefined, 'success', {})).toBe('https://app.example.com/ok');
  });

  it('builds the callback URLs given to Terra with the target name, not a URL', () => {
    expect(callbackUrls('https://api.example.com', 'ios')).toEqual({
      success_url: 'https://api.example.com/callbacks/terra/success?redirect=ios',
      failure_url: 'https://api.example.com/callbacks/terra/failure?redirect=ios',
    });
  });
});

describe('configured URLs', () => {
  it.each([
    ['https://app.example.com/x', true],
    ['http://localhost:3000/result', true],
    ['myapp://connected', true],
    ['http://app.example.com/x', false],
    ['javascript:alert(1)', false],
    ['data:text/html,x', false],
    ['https://user:pass@app.example.com', false],
    ['not a url', false],
    ['file:///etc/passwd', false],
  ])('%s allowed: %s', (url, allowed) => {
    expect(isAllowedRedirect(url)).toBe(allowed);
  });

  it('refuses a configuration with an unsafe target at start-up', () => {
    expect(() =>
      connectConfig({
        REDIRECT_TARGETS: JSON.stringify({ web: { success: 'javascript:x', failure: 'https://a.example' } }),
      }),
    ).toThrow(ConfigError);
    expect(() => connectConfig({ REDIRECT_TARGETS: 'not json' })).toThrow(/REDIRECT_TARGETS/);
    expect(() =>
      connectConfig({
        REDIRECT_TARGETS: JSON.stringify({
          web: { success: 'https://a.example', failure: 'https://a.example' },
        }),
        DEFAULT_REDIRECT_TARGET: 'android',
      }),
    ).toThrow(/DEFAULT_REDIRECT_TARGET/);
  });
});

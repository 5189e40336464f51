import { RANGE_DATA_TYPES, type RangeDataType } from '#shared/terra/data-types';

/**
 * The providers the sandbox offers, shaped like Terra's `GET /integrations/detailed` (`IntegrationProvider`
 * in v2-bundled.yaml). Ids are Terra's real resource ids; scopes are the kind of string each provider grants,
 * which Terra passes through as debugging metadata.
 */

export interface Provider {
  provider: string;
  name: string;
  /** Terra's example value is API_KEYS_MANAGED; SDK-only sources are marked SDK. */
  setup: 'API_KEYS_MANAGED' | 'SDK';
  enabled: boolean;
  types: Record<RangeDataType, boolean>;
  /** Granted on a new connection. */
  scopes: readonly string[];
  /** Toggled by a `permission_change` fired without an explicit body. */
  optionalScope?: string;
  /** Icon background. */
  color: string;
}

export interface IntegrationProvider {
  provider: string;
  name: string;
  icon: string;
  setup: string;
  enabled: boolean;
  types: Record<RangeDataType, boolean>;
}

function types(...on: RangeDataType[]): Record<RangeDataType, boolean> {
  return Object.fromEntries(RANGE_DATA_TYPES.map((type) => [type, on.includes(type)])) as Record<
    RangeDataType,
    boolean
  >;
}

const GOOGLE_FIT = 'https://www.googleapis.com/auth/fitness';

export const PROVIDERS: readonly Provider[] = [
  {
    provider: 'GARMIN',
    name: 'Garmin',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'body', 'daily', 'sleep', 'menstruation'),
    scopes: ['ACTIVITY_EXPORT', 'HEALTH_EXPORT'],
    optionalScope: 'WORKOUT_IMPORT',
    color: '#007cc3',
  },
  {
    provider: 'FITBIT',
    name: 'Fitbit',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'body', 'nutrition', 'daily', 'sleep', 'menstruation'),
    scopes: ['activity', 'heartrate', 'sleep', 'weight', 'profile'],
    optionalScope: 'nutrition',
    color: '#00b0b9',
  },
  {
    provider: 'OURA',
    name: 'Oura',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'body', 'daily', 'sleep', 'menstruation'),
    scopes: ['personal', 'daily', 'heartrate', 'workout', 'session'],
    optionalScope: 'spo2',
    color: '#2f2f2f',
  },
  {
    provider: 'WHOOP',
    name: 'WHOOP',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'body', 'daily', 'sleep'),
    scopes: ['read:profile', 'read:cycles', 'read:recovery', 'read:sleep', 'read:workout'],
    optionalScope: 'read:body_measurement',
    color: '#1a1a1a',
  },
  {
    provider: 'POLAR',
    name: 'Polar',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'body', 'daily', 'sleep'),
    scopes: ['accesslink.read_all'],
    color: '#d10027',
  },
  {
    provider: 'SUUNTO',
    name: 'Suunto',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'daily', 'sleep'),
    scopes: ['workout'],
    color: '#0a2240',
  },
  {
    provider: 'WITHINGS',
    name: 'Withings',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'body', 'daily', 'sleep'),
    scopes: ['user.info', 'user.metrics', 'user.activity'],
    optionalScope: 'user.sleepevents',
    color: '#00a3e0',
  },
  {
    provider: 'COROS',
    name: 'COROS',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'daily', 'sleep'),
    scopes: ['workouts', 'daily'],
    optionalScope: 'sleep',
    color: '#e60012',
  },
  {
    provider: 'PELOTON',
    name: 'Peloton',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity'),
    scopes: ['workouts'],
    color: '#181a1d',
  },
  {
    provider: 'GOOGLE',
    name: 'Google Fit',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity', 'body', 'nutrition', 'daily', 'sleep'),
    scopes: [`${GOOGLE_FIT}.activity.read`, `${GOOGLE_FIT}.body.read`, `${GOOGLE_FIT}.heart_rate.read`],
    optionalScope: `${GOOGLE_FIT}.sleep.read`,
    color: '#4285f4',
  },
  {
    provider: 'WAHOO',
    name: 'Wahoo',
    setup: 'API_KEYS_MANAGED',
    enabled: true,
    types: types('activity'),
    scopes: ['user_read', 'workouts_read'],
    optionalScope: 'power_zones_read',
    color: '#0071ce',
  },
  // Not enabled for the sandbox developer, so the "enabled only" paths of a client have something to drop.
  {
    provider: 'DEXCOM',
    name: 'Dexcom',
    setup: 'API_KEYS_MANAGED',
    enabled: false,
    types: types('body'),
    scopes: ['offline_access'],
    color: '#58a618',
  },
  {
    provider: 'APPLE',
    name: 'Apple Health',
    setup: 'SDK',
    enabled: true,
    types: types('activity', 'body', 'nutrition', 'daily', 'sleep', 'menstruation'),
    scopes: ['activity', 'body', 'daily', 'sleep', 'nutrition', 'menstruation'],
    color: '#ff2d55',
  },
  {
    provider: 'SAMSUNG',
    name: 'Samsung Health',
    setup: 'SDK',
    enabled: true,
    types: types('activity', 'body', 'daily', 'sleep'),
    scopes: ['activity', 'body', 'daily', 'sleep'],
    color: '#1428a0',
  },
  {
    provider: 'HEALTH_CONNECT',
    name: 'Health Connect',
    setup: 'SDK',
    enabled: true,
    types: types('activity', 'body', 'nutrition', 'daily', 'sleep', 'menstruation'),
    scopes: ['activity', 'body', 'daily', 'sleep', 'nutrition', 'menstruation'],
    color: '#3ddc84',
  },
];

const BY_ID = new Map(PROVIDERS.map((provider) => [provider.provider, provider]));

export function findProvider(id: string): Provider | undefined {
  return BY_ID.get(id.trim().toUpperCase());
}

export const isSdkOnly = (provider: Provider): boolean => provider.setup === 'SDK';

/** Providers that can be connected through a login page: enabled and not SDK-only. */
export const webProviders = (): Provider[] => PROVIDERS.filter((p) => p.enabled && !isSdkOnly(p));

export function iconPath(provider: Provider): string {
  return `/static/icons/${provider.provider.toLowerCase()}.svg`;
}

/**
 * `scoped` mirrors Terra: with a dev-id the catalogue carries that developer's `enabled` flags; without one
 * Terra answers with every provider it supports, all marked enabled (rules/auth-integrations-endpoint-headers).
 */
export function detailedIntegrations(options: {
  baseUrl: string;
  sdk: boolean;
  scoped: boolean;
}): IntegrationProvider[] {
  return PROVIDERS.filter((provider) => options.sdk || !isSdkOnly(provider)).map((provider) => ({
    provider: provider.provider,
    name: provider.name,
    icon: `${options.baseUrl}${iconPath(provider)}`,
    setup: provider.setup,
    enabled: options.scoped ? provider.enabled : true,
    types: { ...provider.types },
  }));
}

const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** A small self-contained badge, so pages and clients have a real image URL without external assets. */
export function iconSvg(provider: Provider): string {
  const initials = provider.name
    .split(/\s+/)
    .map((word) => word[0] ?? '')
    .join('')
    .slice(0, 2)
    .toUpperCase();
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">',
    `<title>${escapeXml(provider.name)}</title>`,
    `<rect width="64" height="64" rx="14" fill="${provider.color}"/>`,
    '<text x="32" y="41" font-family="system-ui,sans-serif" font-size="24" font-weight="700" ',
    `fill="#fff" text-anchor="middle">${escapeXml(initials)}</text>`,
    '</svg>',
  ].join('');
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { generateOpenApi, OPENAPI_FILES } from '#local/openapi';
import { openApiDocument, routeKey } from '#shared/http/openapi';
import { WEBHOOK_OUTCOMES } from '#shared/http/responses';
import { ROUTES } from '#shared/http/routes';

/**
 * The OpenAPI document (`openapi.json`) and the client types generated from it: valid OpenAPI 3.1,
 * complete against the route table, and exactly what `npm run openapi` writes from this code.
 */
const ROOT = join(import.meta.dirname, '../..');
const checkedIn = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Doc {
  paths: Record<string, Record<string, Op>>;
  components: { securitySchemes: Record<string, Record<string, unknown>>; schemas: Record<string, Schema> };
}
interface Op {
  operationId: string;
  security: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    { headers?: Record<string, { required?: boolean }>; content?: Record<string, { schema: Schema }> }
  >;
}
interface Schema {
  $ref?: string;
  properties?: Record<string, Schema>;
  enum?: string[];
  maxItems?: number;
  items?: Schema;
  anyOf?: Schema[];
}

const doc = JSON.parse(checkedIn(OPENAPI_FILES.document)) as Doc;
const op = (method: string, path: string): Op => {
  const found = doc.paths[path]?.[method.toLowerCase()];
  if (!found) throw new Error(`${method} ${path} is not in openapi.json`);
  return found;
};
const schemaOf = (ref: Schema | undefined): Schema =>
  ref?.$ref ? (doc.components.schemas[ref.$ref.replace('#/components/schemas/', '')] ?? {}) : (ref ?? {});

describe('openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, every $ref resolving', async () => {
    const validator = new Validator();
    const result = await validator.validate(checkedIn(OPENAPI_FILES.document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it('is what `npm run openapi` writes from this code, and so are the client types', async () => {
    const generated = await generateOpenApi();
    for (const [name, file] of Object.entries(OPENAPI_FILES)) {
      expect(
        checkedIn(file) === generated[name as keyof typeof OPENAPI_FILES],
        `${file} differs from the code: run \`npm run openapi\` and commit the result`,
      ).toBe(true);
    }
  });

  it('has an operation for every route of ROUTES, and none other', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(ROUTES.map(routeKey).sort());
  });

  it('refuses to build a document for a route without its operation', () => {
    const extra = { method: 'GET', path: '/nowhere', entry: 'list-providers', auth: 'jwt' } as const;
    expect(() => openApiDocument('0.0.0', [...ROUTES, extra])).toThrow(/GET \/nowhere.*OPERATIONS/);
    expect(() => openApiDocument('0.0.0', ROUTES.slice(1))).toThrow(/POST \/webhooks\/terra/);
  });

  it('puts the JWT bearer scheme on every JWT route, and none on the routes Terra calls', () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    for (const route of ROUTES) {
      const { security } = op(route.method, route.path);
      expect(security, routeKey(route)).toEqual(route.auth === 'jwt' ? [{ bearerAuth: [] }] : []);
    }
  });

  it('gives every JWT route the error answers of the route wrapper and API Gateway', () => {
    for (const route of ROUTES.filter((candidate) => candidate.auth === 'jwt')) {
      const { responses } = op(route.method, route.path);
      expect(Object.keys(responses), routeKey(route)).toEqual(
        expect.arrayContaining(['400', '401', '429', '500']),
      );
      // 401 comes from the authorizer ({message}) or from the route ({error}): both shapes.
      const shapes = JSON.stringify(responses['401']?.content);
      expect(shapes).toContain('#/components/schemas/ErrorBody');
      expect(shapes).toContain('#/components/schemas/GatewayError');
    }
  });

  it('takes request bodies and parameters from the schemas the routes validate with', () => {
    const session = schemaOf(op('POST', '/sessions').requestBody?.content['application/json']?.schema);
    expect(session.properties?.providers?.maxItems).toBe(50);
    const connect = schemaOf(op('POST', '/connections').requestBody?.content['application/json']?.schema);
    expect(Object.keys(connect.properties ?? {})).toEqual(['provider', 'language', 'redirect']);
    expect(op('GET', '/connections').parameters?.map((param) => `${param.in}:${param.name}`)).toEqual([
      'query:status',
      'query:refresh',
    ]);
    expect(op('DELETE', '/connections/{user_id}').parameters).toEqual([
      expect.objectContaining({ in: 'path', name: 'user_id', required: true }),
    ]);
  });

  it('describes the webhook: its signature header and every outcome under its status', () => {
    const webhook = op('POST', '/webhooks/terra');
    expect(webhook.parameters).toContainEqual(
      expect.objectContaining({ in: 'header', name: 'terra-signature', required: true }),
    );
    const received = schemaOf(webhook.responses['200']?.content?.['application/json']?.schema);
    expect(received.properties?.outcome?.enum).toEqual([...WEBHOOK_OUTCOMES[200]]);
    for (const status of [400, 401, 500, 503] as const) {
      const answer = schemaOf(webhook.responses[String(status)]?.content?.['application/json']?.schema);
      // 503 is ours or, in local mode while the functions load, the gateway's: ours comes first.
      const body = answer.anyOf ? schemaOf(answer.anyOf[0]) : answer;
      expect(body.properties?.error?.properties?.code?.enum, String(status)).toEqual([
        ...WEBHOOK_OUTCOMES[status],
      ]);
    }
    expect(webhook.responses['503']?.headers?.['retry-after']?.required).toBe(true);
    expect(webhook.responses['413']?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/GatewayError',
    });
  });

  it('answers the callback with a 302 and its Location, and nothing else', () => {
    const { responses } = op('GET', '/callbacks/terra/{outcome}');
    expect(Object.keys(responses)).toEqual(['302']);
    expect(responses['302']?.headers?.location?.required).toBe(true);
    expect(responses['302']?.content).toBeUndefined();
  });
});

describe('what reaches a function bundle', () => {
  it('none of the OpenAPI, response-schema or client modules, nor their libraries', async () => {
    const entries = readdirSync(join(ROOT, 'functions')).map((file) => join(ROOT, 'functions', file));
    const result = await build({
      entryPoints: entries,
      bundle: true,
      platform: 'node',
      format: 'esm',
      outdir: join(ROOT, '.unused'),
      write: false,
      metafile: true,
      // The AWS SDK cannot bring any of these in, and is most of the parsing time.
      external: ['@aws-sdk/*', '@smithy/*', '@aws-lambda-powertools/*'],
      logLevel: 'error',
    });
    const inputs = Object.keys(result.metafile.inputs);
    // The check can see: the handlers' own route schemas are there.
    expect(inputs).toContain('shared/http/bodies.ts');
    const leaked = inputs.filter((input) =>
      /^(shared\/http\/(openapi|responses)\.ts|client\/|local\/)|node_modules\/(zod-openapi|openapi-fetch|openapi-typescript)\//.test(
        input,
      ),
    );
    expect(leaked).toEqual([]);
  });
});

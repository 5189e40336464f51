import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_ENTRIES } from '#shared/handlers/manifest';
import { TerraConnect, type TerraConnectProps } from '../../infra/terra-connect.ts';

/**
 * `TerraConnect` as an app uses it: in the app's own stack, with plain props, its own bus, secret and
 * tables. Synthesized offline without bundling (the bundles are test/infra/bundles.test.ts's subject),
 * checked by cdk-nag as `npm run synth` checks the repository's stack.
 */
const REDIRECTS = { web: { success: 'https://app.example.com/ok', failure: 'https://app.example.com/no' } };
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const CONNECTIONS = 'app-terra-connections';
const INBOX = 'app-terra-inbox';
const streamArn = (table: string) =>
  `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}/stream/2026-01-01T00:00:00.000`;
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:app/terra-AbCdEf`;

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Synth {
  template: Template;
  terra: TerraConnect;
  violations: string[];
}

function synth(props: (stack: Stack) => TerraConnectProps): Synth {
  const outdir = mkdtempSync(join(tmpdir(), 'terra-construct-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'MyApp', { env: { account: ACCOUNT, region: REGION } });
  const terra = new TerraConnect(stack, 'Terra', props(stack));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: Array<{ violations: Array<{ ruleName: string }> }>;
  };
  return {
    template: Template.fromStack(stack),
    terra,
    violations: report.pluginReports.flatMap((plugin) => plugin.violations.map((v) => v.ruleName)),
  };
}

type Statement = { Action: string | string[]; Resource: unknown };

function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) =>
      (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}

describe('TerraConnect with plain props only', () => {
  let minimal: Synth;
  beforeAll(() => {
    minimal = synth(() => ({ redirectTargets: REDIRECTS }));
  }, 60_000);

  it('passes cdk-nag in the app’s own stack', () => {
    expect(minimal.violations).toEqual([]);
  });

  it('applies the same defaults as cdk.json: throttles, the webhook budget, a month of logs, the example queue', () => {
    minimal.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      RouteSettings: { 'POST /webhooks/terra': { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 } },
    });
    minimal.template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 50 });
    minimal.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    minimal.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ INBOX_TTL_DAYS: '30' }) },
    });
    minimal.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TOMBSTONE_DAYS: '30' }) },
    });
    expect(minimal.terra.appEventsQueue).toBeDefined();
  });

  it('creates the starter Cognito pool, a placeholder secret, its own bus and tables', () => {
    minimal.template.resourceCountIs('AWS::Cognito::UserPool', 1);
    expect(minimal.terra.userPool).toBeDefined();
    minimal.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    minimal.template.resourceCountIs('AWS::Events::EventBus', 1);
    minimal.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 2);
  });

  it('exposes every function by name, and leaves outputs to the app', () => {
    expect(Object.keys(minimal.terra.functions).sort()).toEqual(FUNCTION_ENTRIES.sort());
    for (const fn of Object.values(minimal.terra.functions)) expect(fn.node.path).toMatch(/^MyApp\/Terra\//);
    expect(minimal.template.findOutputs('*')).toEqual({});
  });
});

describe('TerraConnect with the app’s own identity provider, secret, bus and tables', () => {
  let own: Synth;
  beforeAll(() => {
    own = synth((stack) => ({
      redirectTargets: REDIRECTS,
      identityProvider: { issuer: 'https://auth.example.com/', audience: ['my-api'] },
      terraSecret: Secret.fromSecretCompleteArn(stack, 'TerraSecret', SECRET_ARN),
      eventBus: new EventBus(stack, 'AppBus'),
      existingTables: {
        connections: { tableName: CONNECTIONS, tableStreamArn: streamArn(CONNECTIONS) },
        inbox: { tableName: INBOX, tableStreamArn: streamArn(INBOX) },
      },
      logRetention: 7,
      exampleSubscription: false,
    }));
  }, 60_000);

  it('passes cdk-nag', () => {
    expect(own.violations).toEqual([]);
  });

  it('creates no pool, secret, bus or table of its own, and hands the functions the given ones', () => {
    own.template.resourceCountIs('AWS::Cognito::UserPool', 0);
    own.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    own.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    // The one bus is the app's.
    expect(Object.keys(own.template.findResources('AWS::Events::EventBus'))).toEqual([
      expect.stringMatching(/^AppBus/),
    ]);
    own.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: 'https://auth.example.com/', Audience: ['my-api'] },
    });
    own.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          CONNECTIONS_TABLE: CONNECTIONS,
          INBOX_TABLE: INBOX,
          TERRA_SECRET_ARN: SECRET_ARN,
        }),
      },
    });
    own.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ EVENT_BUS_NAME: { Ref: Match.stringLikeRegexp('^AppBus') } }),
      },
    });
    own.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    expect(own.terra.appEventsQueue).toBeUndefined();
  });

  it('feeds the publisher and the backfill from the given tables’ streams', () => {
    const sources = Object.values(own.template.findResources('AWS::Lambda::EventSourceMapping'))
      .map((mapping) => (mapping as { Properties: { EventSourceArn: unknown } }).Properties.EventSourceArn)
      .filter((arn) => typeof arn === 'string')
      .sort();
    expect(sources).toEqual([streamArn(CONNECTIONS), streamArn(CONNECTIONS), streamArn(INBOX)].sort());
  });

  it('grants table and stream actions on exactly those tables, their indexes and streams, never on "*"', () => {
    const all = statements(own.template);
    expect(all.filter((statement) => JSON.stringify(statement.Resource) === '"*"')).toEqual([]);
    const dynamo = all.filter((statement) => JSON.stringify(statement.Action).includes('dynamodb:'));
    expect(dynamo.length).toBeGreaterThan(10);
    const allowed = new RegExp(
      `^arn:[^:]+:dynamodb:${REGION}:${ACCOUNT}:table/(${CONNECTIONS}|${INBOX})(/index/byAttention|/stream/.+)?$`,
    );
    for (const statement of dynamo) {
      for (const resource of [statement.Resource].flat()) {
        // Imported ARNs resolve to `arn:${AWS::Partition}:…`: render the partition to compare.
        const rendered = JSON.stringify(resource)
          .replace(/\{"Fn::Join":\["",\[("arn:",)?\{"Ref":"AWS::Partition"\},"/, '"arn:aws')
          .replace(/"\]\]\}$/, '"');
        expect(JSON.parse(rendered), JSON.stringify(statement)).toMatch(allowed);
      }
    }
  });
});

describe('TerraConnect props', () => {
  const props = (extra: Record<string, unknown>) => () =>
    ({ redirectTargets: REDIRECTS, ...extra }) as TerraConnectProps;

  it('refuses an unsafe redirect, naming the setting', () => {
    expect(() =>
      synth(
        props({ redirectTargets: { web: { success: 'javascript:alert(1)', failure: 'https://a.example' } } }),
      ),
    ).toThrow(/TerraConnect props are invalid: redirectTargets\.web\.success: must be an https URL/);
  });

  it('refuses a setting it does not know (a typo), naming it', () => {
    expect(() => synth(props({ webhookThrotle: { rateLimit: 5 } }))).toThrow(/webhookThrotle: not a setting/);
  });

  it('refuses an archive that would expire payloads before their delivery records', () => {
    expect(() => synth(props({ archive: { expirationDays: 7 }, inboxTtlDays: 30 }))).toThrow(
      /archive\.expirationDays must be 0 \(keep\) or at least inboxTtlDays/,
    );
  });
});

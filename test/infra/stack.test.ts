import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '#shared/http/routes';
import { connectionsTableInput, inboxTableInput } from '#shared/store/tables';
import { stackPropsFromContext } from '../../infra/context.ts';
import { TerraConnectStack } from '../../infra/terra-connect-stack.ts';

/**
 * The stack, synthesized offline exactly as `npm run synth` does (esbuild bundles included), checked
 * resource by resource and by cdk-nag's AwsSolutions pack.
 */
const CONTEXT = {
  jwtIssuer: 'https://auth.example.com/',
  jwtAudience: ['terra-connect-api'],
  corsOrigins: ['https://app.example.com'],
  redirectTargets: {
    web: { success: 'https://app.example.com/ok', failure: 'https://app.example.com/no' },
    ios: { success: 'exampleapp://ok', failure: 'exampleapp://no' },
  },
  defaultRedirectTarget: 'web',
};

interface Synth {
  template: Template;
  json: string;
  report: {
    pluginReports: Array<{ pluginName: string; conclusion: string; violations: Array<{ ruleName: string }> }>;
  };
}

function synth(context: unknown, bundle: boolean): Synth {
  const outdir = mkdtempSync(join(tmpdir(), 'terra-cdk-'));
  const app = new App({ outdir, context: bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new TerraConnectStack(app, 'TerraConnect', stackPropsFromContext(context));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const template = Template.fromStack(stack);
  return {
    template,
    json: JSON.stringify(assembly.getStackByName('TerraConnect').template),
    report: JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')),
  };
}

/** Functions besides one per route: the reconcile, the outbox publisher, the backfill, the deletion worker. */
const OTHER_FUNCTIONS = 4;

let main: Synth;
beforeAll(() => {
  main = synth(CONTEXT, true);
}, 180_000);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function statementsOf(template: Template, roleFragment: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies)
    .filter(([id]) => id.startsWith(roleFragment))
    .flatMap(
      ([, policy]) =>
        (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
}

function actionsOf(template: Template, roleFragment: string): string[] {
  return statementsOf(template, roleFragment)
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding (synth throws on any)', () => {
    expect(
      main.report.pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName)),
    ).toEqual([]);
    expect(main.report.pluginReports.every((plugin) => plugin.conclusion === 'success')).toBe(true);
  });

  it('is really checking: an unencrypted public bucket fails the synth', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'terra-cdk-')) });
    const stack = new Stack(app, 'Careless');
    new Bucket(stack, 'Open', { enforceSSL: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  it('also passes with the Cognito fallback and no CORS', () => {
    const { report, template } = synth({ redirectTargets: CONTEXT.redirectTargets }, false);
    expect(
      report.pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName)),
    ).toEqual([]);
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: Match.anyValue(), Audience: [Match.anyValue()] },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
  }, 60_000);
});

describe('routes', () => {
  it.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route.auth] as const))(
    '%s is routed, with authorizer %s',
    (routeKey, auth) => {
      main.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        AuthorizationType: auth === 'jwt' ? 'JWT' : 'NONE',
      });
    },
  );

  it('has no route the design does not list', () => {
    expect(Object.keys(main.template.findResources('AWS::ApiGatewayV2::Route'))).toHaveLength(ROUTES.length);
  });

  it('uses the configured issuer and audience', () => {
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://auth.example.com/', Audience: ['terra-connect-api'] },
    });
    main.template.resourceCountIs('AWS::Cognito::UserPool', 0);
  });

  it('allows only the configured origins', () => {
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: { AllowOrigins: ['https://app.example.com'] },
    });
    expect(main.json).not.toContain('"AllowOrigins":["*"]');
  });

  it('throttles the stage and writes JSON access logs with the request id', () => {
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { Format: Match.stringLikeRegexp('\\$context.requestId') },
    });
  });
});

describe('tables', () => {
  it('keys connections by reference_id and user_id with the keys-only byUserId index and a stream, as promised and as local mode does', () => {
    const local = connectionsTableInput('x');
    expect(local.KeySchema).toEqual([
      { AttributeName: 'reference_id', KeyType: 'HASH' },
      { AttributeName: 'user_id', KeyType: 'RANGE' },
    ]);
    expect(local.GlobalSecondaryIndexes?.[0]?.KeySchema).toEqual([
      { AttributeName: 'user_id', KeyType: 'HASH' },
    ]);
    main.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: local.KeySchema,
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byUserId',
          KeySchema: local.GlobalSecondaryIndexes?.[0]?.KeySchema,
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      BillingMode: 'PAY_PER_REQUEST',
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        }),
      ],
    });
    const connections = Object.values(main.template.findResources('AWS::DynamoDB::GlobalTable')).find(
      (table) => JSON.stringify(table).includes('byUserId'),
    );
    // Retained when the stack goes, like the inbox and the archive.
    expect(connections).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('keys the inbox by event_id with a TTL, the sparse byAttention index and a stream', () => {
    const local = inboxTableInput('x');
    main.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: local.KeySchema,
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byAttention',
          KeySchema: local.GlobalSecondaryIndexes?.[0]?.KeySchema,
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('retains both tables when the stack is deleted', () => {
    const tables = main.template.findResources('AWS::DynamoDB::GlobalTable');
    expect(
      Object.values(tables).map((table) => (table as { DeletionPolicy: string }).DeletionPolicy),
    ).toEqual(['Retain', 'Retain']);
  });
});

describe('the archive bucket', () => {
  it('is encrypted, private, retained, and moves to cheaper storage', () => {
    main.template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'archive/' }),
        LifecycleConfiguration: {
          Rules: [
            ...['users/', 'references/', 'unattributed/'].map((Prefix) =>
              Match.objectLike({
                Prefix,
                ExpirationInDays: 365,
                Transitions: [
                  { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
                  { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
                ],
              }),
            ),
            Match.objectLike({ Prefix: 'quarantine/', ExpirationInDays: 30 }),
          ],
        },
      }),
    });
  });

  it('refuses requests without TLS', () => {
    main.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('secrets', () => {
  it('keeps Terra credentials in Secrets Manager, with placeholders only', () => {
    main.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: Match.stringLikeRegexp('REPLACE_ME') }),
      SecretString: Match.absent(),
    });
  });

  it('puts no credential in any function environment', () => {
    const functions = main.template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions)) {
      const variables = (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } })
        .Properties.Environment.Variables;
      expect(Object.keys(variables)).not.toEqual(
        expect.arrayContaining([expect.stringMatching(/TERRA_(SIGNING_SECRET|API_KEY|DEV_ID)/)]),
      );
    }
    // Terra's credentials reach a function only as the secret's ARN, and only where Terra is called.
    const withSecret = Object.entries(functions)
      .filter(
        ([, fn]) =>
          (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties
            .Environment.Variables.TERRA_SECRET_ARN !== undefined,
      )
      .map(([id]) => id);
    expect(withSecret.some((id) => id.startsWith('Eventspublisher'))).toBe(false);
    expect(withSecret.some((id) => id.startsWith('terrawebhook'))).toBe(true);
    expect(main.json).not.toMatch(/local-signing-secret|local-api-key|whsec_/);
  });
});

describe('functions', () => {
  it('run Node.js 22 on ARM64 without loading source maps, each with its own log group', () => {
    const functions = Object.values(main.template.findResources('AWS::Lambda::Function'));
    // One per route, plus the scheduled reconcile, the outbox publisher, the backfill and the deletion worker.
    expect(functions).toHaveLength(ROUTES.length + OTHER_FUNCTIONS);
    for (const fn of functions) {
      expect(fn).toMatchObject({
        Properties: {
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          LoggingConfig: { LogGroup: expect.anything() },
          Environment: { Variables: expect.objectContaining({ POWERTOOLS_SERVICE_NAME: 'terra-connect' }) },
        },
      });
      // --enable-source-maps cost ~20 ms of every cold start; the logs never carry stacks.
      expect(JSON.stringify(fn)).not.toContain('enable-source-maps');
    }
    main.template.resourcePropertiesCountIs(
      'AWS::Logs::LogGroup',
      { RetentionInDays: 30 },
      ROUTES.length + OTHER_FUNCTIONS + 1,
    );
  });

  it('answer the webhook well inside Terra’s 8 s window', () => {
    main.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ARCHIVE_BUCKET: Match.anyValue() }) },
      Timeout: 5,
    });
  });
});

describe('least privilege', () => {
  it('grants no action on "*" anywhere in an IAM policy', () => {
    const statements = Object.values(main.template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) =>
        (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
    expect(statements.length).toBeGreaterThan(0);
    // The one `*` AWS requires is inside the alarm key's own key policy (a KMS resource policy), not here.
    expect(statements.filter((statement) => JSON.stringify(statement.Resource) === '"*"')).toEqual([]);
  });

  it('lets the webhook write records, its inbox and the archive, and nothing else', () => {
    expect(actionsOf(main.template, 'terrawebhookRole')).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:PutItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:UpdateItem',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:DeleteObject',
      's3:PutObject',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
  });

  it('lets the webhook delete only under users/, to take back a delivery whose user was deleted as it was written', () => {
    const statements = statementsOf(main.template, 'terrawebhookRole');
    const deletes = statements.filter((statement) => statement.Action === 's3:DeleteObject');
    expect(deletes).toHaveLength(1);
    expect(JSON.stringify(deletes[0]?.Resource)).toMatch(/\/users\/\*"\]\]\}$/);
  });

  it.each(['createsession', 'listproviders'])('gives %s no table or bucket at all', (name) => {
    expect(actionsOf(main.template, `${name}Role`)).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
  });

  it("lets createsdktoken put its caller's SDK claim and nothing else: no record, no delivery, no read", () => {
    expect(actionsOf(main.template, 'createsdktokenRole')).toEqual([
      'dynamodb:PutItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    const put = statementsOf(main.template, 'createsdktokenRole').find(
      (statement) => statement.Action === 'dynamodb:PutItem',
    );
    expect(JSON.stringify(put?.Resource)).toContain('Inbox');
    expect(JSON.stringify(put?.Resource)).not.toContain('Connections');
    expect((put as Statement & { Condition?: unknown }).Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['sdk#*'] },
    });
  });

  it('lets listconnections read SDK claims (for ?refresh=true), and never write one', () => {
    const claims = statementsOf(main.template, 'listconnectionsRole').filter((statement) =>
      JSON.stringify((statement as Statement & { Condition?: unknown }).Condition ?? '').includes('sdk#'),
    );
    expect(claims).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:GetItem',
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['sdk#*'] } },
      }),
    ]);
  });

  it.each(['listconnections', 'createconnection', 'deleteconnection', 'terracallback'])(
    'gives %s the connections table, the owner guards and no delivery or bucket',
    (name) => {
      const actions = actionsOf(main.template, `${name}Role`);
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem']));
      if (name !== 'listconnections') expect(actions).not.toContain('dynamodb:Query');
      expect(actions).not.toContain('s3:PutObject');
      // In the inbox table, only the reserved items (owner guards; the list reads data requests too).
      const inbox = statementsOf(main.template, `${name}Role`).filter((statement) =>
        JSON.stringify(statement.Resource).includes('Inbox'),
      );
      expect(inbox.length).toBeGreaterThan(0);
      for (const statement of inbox) {
        expect(JSON.stringify((statement as Statement & { Condition?: unknown }).Condition)).toMatch(
          /"dynamodb:LeadingKeys":\["(owner|request|sdk)#\*"/,
        );
      }
    },
  );

  it('lets GET /connections query the partition, never an index: strongly consistent', () => {
    const statements = statementsOf(main.template, 'listconnectionsRole');
    const query = statements.find((statement) => statement.Action === 'dynamodb:Query');
    expect(JSON.stringify(query?.Resource)).not.toContain('/index/');
  });
});

describe('the scheduled reconcile', () => {
  it('runs every 6 hours by default', () => {
    main.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(6 hours)',
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
  });

  it('may scan and write records, and touch only its checkpoint key and the owner guards in the inbox', () => {
    const statements = statementsOf(main.template, 'reconcileRole');
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'dynamodb:Scan' }));
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['reconcile#checkpoint'] } },
      }),
    );
    // Updates only where a record moves with its guard: never a delivery.
    const updates = statements.filter((statement) => JSON.stringify(statement.Action).includes('UpdateItem'));
    for (const statement of updates.filter((each) => JSON.stringify(each.Resource).includes('Inbox'))) {
      expect((statement as Statement & { Condition?: unknown }).Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['owner#*'] },
      });
    }
  });
});

describe('monitoring and outputs', () => {
  it('alarms on webhook failures and parked deliveries, into a topic', () => {
    for (const outcome of ['error', 'malformed', 'stale', 'payload_failed']) {
      main.template.hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: `{ $.outcome = "${outcome}" }`,
      });
    }
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: '5xx',
      Namespace: 'AWS/ApiGateway',
      AlarmActions: [Match.anyValue()],
    });
    main.template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'Throttles' },
      ROUTES.length + OTHER_FUNCTIONS,
    );
    main.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  it('outputs the API URL, the exact webhook URL and the callback URLs', () => {
    for (const output of [
      'ApiUrl',
      'WebhookUrl',
      'CallbackSuccessUrl',
      'CallbackFailureUrl',
      'AlarmTopicArn',
      'TerraSecretArn',
    ]) {
      main.template.hasOutput(output, {});
    }
    expect(JSON.stringify(main.template.findOutputs('WebhookUrl'))).toContain('/webhooks/terra');
  });
});

describe('context validation', () => {
  it('fails the synth with the field name for an unsafe redirect target', () => {
    expect(() =>
      stackPropsFromContext({
        redirectTargets: { web: { success: 'javascript:alert(1)', failure: 'https://a.example' } },
      }),
    ).toThrow(/terraConnect.redirectTargets.web.success/);
    expect(() => stackPropsFromContext({ ...CONTEXT, jwtAudience: undefined })).toThrow(/jwtIssuer/);
  });
});

describe('configuration per function', () => {
  /** A function's environment as the template gives it, CloudFormation references made concrete. */
  function environmentOf(entry: string): Record<string, string> {
    const functions = main.template.findResources('AWS::Lambda::Function');
    // A path of construct ids (`Events-publisher`) or a route's entry; logical ids drop the dashes.
    const found = Object.entries(functions).find(([id]) => id.startsWith(entry.replaceAll('-', '')));
    if (!found) throw new Error(`no function ${entry} in the template`);
    const variables = (found[1] as { Properties: { Environment: { Variables: Record<string, unknown> } } })
      .Properties.Environment.Variables;
    const concrete: Record<string, string> = {
      CONNECTIONS_TABLE: 'connections',
      INBOX_TABLE: 'inbox',
      ARCHIVE_BUCKET: 'archive-bucket',
      TERRA_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:terra-connect/terra',
      DELETION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/deletions',
      EVENT_BUS_NAME: 'bus',
      DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dead-letters',
    };
    return Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [
        name,
        typeof value === 'string' ? value : (concrete[name] ?? 'x'),
      ]),
    );
  }

  it.each([...ROUTES.map((route) => route.entry), 'reconcile'])(
    'builds %s from exactly the environment the stack gives it',
    async (entry) => {
      const env = environmentOf(entry);
      const { HTTP_HANDLERS } = await import('#shared/handlers/index');
      const { reconcileHandler } = await import('#shared/handlers/reconcile');
      const build =
        entry === 'reconcile' ? reconcileHandler : HTTP_HANDLERS[entry as keyof typeof HTTP_HANDLERS];
      expect(() => build(env)).not.toThrow();
    },
  );

  it.each([
    ['publisher', 'Events-publisher'],
    ['backfill', 'Events-backfill'],
    ['deletion-worker', 'Deletion-deletion-worker'],
  ] as const)('builds the %s from exactly the environment the stack gives it', async (entry, path) => {
    const env = environmentOf(path);
    const handlers = {
      publisher: (await import('#shared/handlers/publisher')).publisherHandler,
      backfill: (await import('#shared/handlers/backfill')).backfillHandler,
      'deletion-worker': (await import('#shared/handlers/deletion-worker')).deletionWorkerHandler,
    };
    expect(() => handlers[entry](env)).not.toThrow();
    // And it is really checking: without one of its own settings the same build fails, naming it.
    const variable = Object.keys(env).find((name) => name.endsWith('_TABLE'));
    expect(variable).toBeDefined();
    const { [variable ?? '']: _, ...missing } = env;
    expect(() => handlers[entry](missing)).toThrow(new RegExp(variable ?? ''));
  });

  it('gives a function no setting it does not read: the reconcile gets no redirect targets, the providers list no tables', () => {
    expect(Object.keys(environmentOf('reconcile'))).not.toContain('REDIRECT_TARGETS');
    expect(Object.keys(environmentOf('list-providers'))).not.toContain('CONNECTIONS_TABLE');
    expect(Object.keys(environmentOf('terra-webhook'))).toEqual(
      expect.arrayContaining(['ARCHIVE_BUCKET', 'CONNECTIONS_TABLE', 'INBOX_TABLE', 'TERRA_SECRET_ARN']),
    );
    expect(Object.keys(environmentOf('terra-webhook'))).not.toContain('REDIRECT_TARGETS');
  });
});

describe('events for the app', () => {
  it('creates a custom bus and lets the publisher, and only it, put events on it', () => {
    main.template.resourceCountIs('AWS::Events::EventBus', 1);
    expect(actionsOf(main.template, 'EventspublisherRole')).toContain('events:PutEvents');
    for (const name of ['terrawebhookRole', 'EventsbackfillRole', 'reconcileRole']) {
      expect(actionsOf(main.template, name)).not.toContain('events:PutEvents');
    }
  });

  it("feeds the publisher from both tables' streams, in order, reporting partial failures into a dead-letter queue", () => {
    const mappings = (
      Object.values(main.template.findResources('AWS::Lambda::EventSourceMapping')) as Array<{
        Properties: Record<string, unknown>;
      }>
    ).filter((mapping) => JSON.stringify(mapping.Properties.EventSourceArn).includes('StreamArn'));
    // Publisher × 2 tables, backfill × the connections table.
    expect(mappings).toHaveLength(3);
    for (const mapping of mappings) {
      expect(mapping.Properties).toMatchObject({
        StartingPosition: 'TRIM_HORIZON',
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: 10,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^EventsDeadLetters/), 'Arn'] } },
        },
      });
    }
    const filters = JSON.stringify(mappings.map((mapping) => mapping.Properties.FilterCriteria));
    expect(filters).toContain('processed');
    expect(filters).toContain('active');
  });

  it('gives the publisher the stream, record writes (to apply parked deliveries), request tracking and archive reads, and nothing else', () => {
    const actions = actionsOf(main.template, 'EventspublisherRole');
    expect(actions).toEqual(
      expect.arrayContaining([
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ConditionCheckItem',
        's3:GetObject',
        'sqs:SendMessage',
      ]),
    );
    expect(actions).not.toContain('s3:PutObject');
    expect(actions).not.toContain('s3:DeleteObject');
    expect(actions).not.toContain('secretsmanager:GetSecretValue');
  });

  it('lets the backfill read the Terra secret and track requests, but not publish or touch the archive', () => {
    const actions = actionsOf(main.template, 'EventsbackfillRole');
    expect(actions).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue', 'dynamodb:UpdateItem']));
    expect(actions).not.toContain('dynamodb:PutItem');
    expect(actions.some((action) => action.startsWith('s3:'))).toBe(false);
  });

  it('alarms on dead letters and on stream consumers falling behind', () => {
    main.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      AlarmActions: [Match.anyValue()],
    });
    main.template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge' }, 2);
  });

  it('ships one example subscription, a rule to a queue with a dead-letter queue, that context turns off', () => {
    main.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['terra-connect'] },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue() })],
    });
    main.template.hasOutput('AppEventsQueueUrl', {});
    const without = synth({ ...CONTEXT, exampleSubscription: false }, false);
    expect(JSON.stringify(without.template.findResources('AWS::Events::Rule'))).not.toContain(
      'terra-connect',
    );
    expect(without.template.findOutputs('AppEventsQueueUrl')).toEqual({});
  });

  it('gives consumers a policy that reads archived payloads under users/ and unattributed/ and nothing else', () => {
    const policies = Object.values(main.template.findResources('AWS::IAM::ManagedPolicy')) as Array<{
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }>;
    const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe('s3:GetObject');
    expect(JSON.stringify(statements[0]?.Resource)).toContain('/users/*');
    expect(JSON.stringify(statements[0]?.Resource)).toContain('/unattributed/*');
  });
});

describe('deleting a user', () => {
  it("runs DELETE /me and the worker with deletes only: on both tables, and on the archive under a user's prefixes", () => {
    for (const role of ['deletemeRole', 'DeletiondeletionworkerRole']) {
      const actions = actionsOf(main.template, role);
      expect(actions).toEqual(
        expect.arrayContaining([
          'dynamodb:DeleteItem',
          's3:DeleteObject',
          's3:ListBucket',
          'sqs:SendMessage',
        ]),
      );
      // No batch writes (they would allow puts), no archive writes or reads, no delivery updates.
      for (const forbidden of ['dynamodb:BatchWriteItem', 's3:PutObject', 's3:GetObject']) {
        expect(actions, `${role} ${forbidden}`).not.toContain(forbidden);
      }
      const statements = statementsOf(main.template, role);
      // Updates only of the owner guards (each becomes its tombstone), never of a delivery or a record.
      for (const statement of statements.filter((each) =>
        JSON.stringify(each.Action).includes('UpdateItem'),
      )) {
        expect((statement as Statement & { Condition?: unknown }).Condition).toEqual({
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['owner#*'] },
        });
      }
      const list = statements.find((statement) => statement.Action === 's3:ListBucket') as Statement & {
        Condition?: unknown;
      };
      expect(list?.Condition).toEqual({
        StringLike: { 's3:prefix': ['users/*', 'references/*', 'quarantine/*', 'unattributed/*'] },
      });
      const deletes = statements.find((statement) => statement.Action === 's3:DeleteObject');
      // unattributed/<user_id>/: what was parked for one of the person's Terra users.
      expect(JSON.stringify(deletes?.Resource)).toMatch(
        /users\/\*.*references\/\*.*quarantine\/\*.*unattributed\/\*/,
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['deletion#*'] } },
        }),
      );
    }
  });

  it('lets GET /me/deletion read deletion jobs and nothing else, without the Terra secret', () => {
    expect(actionsOf(main.template, 'getdeletionRole')).toEqual([
      'dynamodb:GetItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
    ]);
    expect(statementsOf(main.template, 'getdeletionRole')).toContainEqual(
      expect.objectContaining({
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['deletion#*'] } },
      }),
    );
  });

  it('continues deletions through a queue with a dead-letter queue and an alarm on it', () => {
    main.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    main.template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
      VisibilityTimeout: 1800,
    });
  });
});

describe('retention', () => {
  it('keeps tombstones and delivery records for what the context says', () => {
    main.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ INBOX_TTL_DAYS: '30', ARCHIVE_BUCKET: Match.anyValue() }),
      },
    });
    main.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TOMBSTONE_DAYS: '30' }) },
    });
  });

  it('refuses an archive that would expire payloads before their delivery records', () => {
    expect(() => stackPropsFromContext({ ...CONTEXT, archiveExpirationDays: 7, inboxTtlDays: 30 })).toThrow(
      /archiveExpirationDays must be 0 \(keep\) or at least terraConnect.inboxTtlDays/,
    );
  });

  it('keeps payloads for ever only when told (0), and then moves them to cheaper storage still', () => {
    const kept = synth({ ...CONTEXT, archiveExpirationDays: 0 }, false);
    const bucket = Object.values(kept.template.findResources('AWS::S3::Bucket')).find((resource) =>
      JSON.stringify(resource).includes('archive-users'),
    ) as { Properties: { LifecycleConfiguration: { Rules: Array<Record<string, unknown>> } } } | undefined;
    const rules = bucket?.Properties.LifecycleConfiguration.Rules ?? [];
    const users = rules.find((rule) => rule.Prefix === 'users/');
    expect(users).toBeDefined();
    expect(users).not.toHaveProperty('ExpirationInDays');
    expect(JSON.stringify(users)).toContain('GLACIER_IR');
    expect(rules.find((rule) => rule.Prefix === 'quarantine/')).toMatchObject({ ExpirationInDays: 30 });
  });
});

describe('capacity', () => {
  it('gives the webhook route its own throttle and the webhook function a concurrency budget, from cdk.json', () => {
    main.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      RouteSettings: { 'POST /webhooks/terra': { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 } },
    });
    main.template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 5,
      ReservedConcurrentExecutions: 50,
    });
    const tuned = synth({ ...CONTEXT, webhookThrottleRateLimit: 50, webhookReservedConcurrency: 10 }, false);
    tuned.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: { 'POST /webhooks/terra': Match.objectLike({ ThrottlingRateLimit: 50 }) },
    });
    tuned.template.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 10 });
    // Only the webhook has a budget of its own; the app routes share the rest.
    expect(
      Object.values(main.template.findResources('AWS::Lambda::Function')).filter((fn) =>
        JSON.stringify(fn).includes('ReservedConcurrentExecutions'),
      ),
    ).toHaveLength(1);
  });
});

describe('the Terra secret', () => {
  it('is read through the Parameters and Secrets extension by every function that reads it, and by no other', () => {
    const functions = Object.entries(main.template.findResources('AWS::Lambda::Function')) as Array<
      [string, { Properties: { Layers?: unknown[]; Environment: { Variables: Record<string, unknown> } } }]
    >;
    const readers = functions.filter(
      ([, fn]) => fn.Properties.Environment.Variables.TERRA_SECRET_ARN !== undefined,
    );
    expect(readers.length).toBeGreaterThan(5);
    for (const [id, fn] of readers) {
      expect(fn.Properties.Environment.Variables, id).toMatchObject({
        PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED: 'true',
      });
      expect(fn.Properties.Layers, id).toHaveLength(1);
    }
    for (const [id, fn] of functions) {
      if (fn.Properties.Environment.Variables.TERRA_SECRET_ARN === undefined) {
        expect(fn.Properties.Layers, id).toBeUndefined();
      }
    }
  });
});

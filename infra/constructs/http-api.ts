import { Duration, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteSpec } from '#shared/http/routes';

export interface HttpApiProps {
  routes: ReadonlyArray<RouteSpec & { function: IFunction }>;
  jwt: { issuer: string; audience: string[] };
  corsOrigins: string[];
  /** The app routes' stage throttle. */
  throttle: { rateLimit: number; burstLimit: number };
  /** Terra's own route gets its own, so a delivery burst neither starves nor is starved by the app. */
  webhookThrottle: { rateLimit: number; burstLimit: number };
  logRetention: RetentionDays;
}

/**
 * The HTTP API (docs/architecture.md, "Flows"): every route from the shared route table, the JWT authorizer on app routes
 * and none on Terra's (they carry a signature or nothing), CORS for configured origins only, stage
 * throttling and JSON access logs.
 */
export class TerraHttpApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'terra-connect: Terra connections for your app',
      createDefaultStage: false,
      ...(props.corsOrigins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: props.corsOrigins,
              allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.DELETE],
              allowHeaders: ['authorization', 'content-type'],
              maxAge: Duration.hours(1),
            },
          }
        : {}),
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            ip: '$context.identity.sourceIp',
            time: '$context.requestTime',
          }),
        ),
      },
    });

    // Per-route throttling is a stage setting the L2 does not expose.
    const webhook = props.routes.find((route) => route.entry === 'terra-webhook');
    if (webhook) {
      (this.stage.node.defaultChild as CfnStage).routeSettings = {
        // A JSON map that CloudFormation reads as is: its keys are spelled as the API's own.
        [`${webhook.method} ${webhook.path}`]: {
          ThrottlingRateLimit: props.webhookThrottle.rateLimit,
          ThrottlingBurstLimit: props.webhookThrottle.burstLimit,
        },
      };
    }

    const authorizer = new HttpJwtAuthorizer('Jwt', props.jwt.issuer, {
      jwtAudience: props.jwt.audience,
      identitySource: ['$request.header.Authorization'],
    });
    for (const route of props.routes) {
      const [created] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${route.entry}-integration`, route.function),
        ...(route.auth === 'jwt' ? { authorizer } : {}),
      });
      if (route.auth === 'none' && created) {
        Validations.of(created).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            route.path === '/webhooks/terra'
              ? 'Terra cannot send a JWT; every delivery is verified by its HMAC signature before anything is read.'
              : 'Terra redirects the browser here without a token; the parameters are only hints, confirmed with Terra.',
        });
      }
    }
  }

  get url(): string {
    return this.stage.url.replace(/\/$/, '');
  }
}

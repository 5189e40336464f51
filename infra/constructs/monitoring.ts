import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, type ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

const NAMESPACE = 'TerraConnect';

/**
 * Alarms on what means "Terra's deliveries are not landing": webhook answers of our own failure,
 * deliveries parked as failed, function errors and throttles, API 5xx. All go to one SNS topic.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // CloudWatch can publish to an encrypted topic only with a customer key that lets it.
    const key = new Key(this, 'AlarmKey', {
      enableKeyRotation: true,
      description: 'terra-connect alarm topic',
    });
    key.grantEncryptDecrypt(new ServicePrincipal('cloudwatch.amazonaws.com'));
    this.topic = new Topic(this, 'Alarms', {
      masterKey: key,
      enforceSSL: true,
      displayName: 'terra-connect alarms',
    });
  }

  private alarm(id: string, metric: IMetric, description: string, threshold = 1): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    return alarm;
  }

  /** Webhook outcomes from its structured logs: `error` (answered 500) and `malformed` (inbox `failed`). */
  watchWebhook(logGroup: ILogGroup): void {
    for (const [outcome, description] of [
      [
        'error',
        'Webhook deliveries answered 500 (our own failure: store, archive or secret); Terra retries them.',
      ],
      ['malformed', 'Webhook deliveries parked as failed in the inbox (valid signature, malformed JSON).'],
      [
        'stale',
        'Validly signed deliveries outside the time window, quarantined: npm run ops -- deliveries --status stale, then replay.',
      ],
      [
        'payload_failed',
        'Large payloads (s3_payload) that could not be downloaded for good (expired, forbidden, too large).',
      ],
    ] as const) {
      const filter = new MetricFilter(this, `Webhook-${outcome}`, {
        logGroup,
        filterPattern: FilterPattern.stringValue('$.outcome', '=', outcome),
        metricNamespace: NAMESPACE,
        metricName: `Webhook-${outcome}`,
        metricValue: '1',
      });
      this.alarm(
        `Webhook-${outcome}-alarm`,
        filter.metric({ statistic: 'Sum', period: Duration.minutes(5) }),
        description,
      );
    }
  }

  /** A stream consumer falling behind: records older than 5 minutes waiting means events arrive late. */
  watchStream(name: string, fn: IFunction): void {
    this.alarm(
      `${name}-iterator-age`,
      fn.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(5) }),
      `${name}: its stream consumer is more than 5 minutes behind.`,
      300_000,
    );
  }

  /** Any message waiting in a dead-letter queue is work that did not get done. */
  watchQueue(name: string, queue: IQueue, description: string): void {
    this.alarm(
      `${name}-waiting`,
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      description,
    );
  }

  watchFunction(name: string, fn: IFunction): void {
    const period = Duration.minutes(5);
    this.alarm(`${name}-errors`, fn.metricErrors({ period }), `${name}: the function threw or timed out.`);
    this.alarm(`${name}-throttles`, fn.metricThrottles({ period }), `${name}: invocations were throttled.`);
  }

  watchApi(serverErrors: IMetric): void {
    this.alarm('Api-5xx', serverErrors, 'The HTTP API answered 5xx (any route).', 5);
  }
}

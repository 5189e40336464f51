import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnResource, type Stack } from 'aws-cdk-lib';
import { ROUTES } from '#shared/http/routes';
import { TerraFunction } from '../../infra/constructs/terra-function.ts';
import { stackPropsFromContext } from '../../infra/context.ts';
import { TerraConnectStack } from '../../infra/terra-connect-stack.ts';
import { PROJECT_ROOT } from './paths.ts';

/**
 * What the stack deploys, read from the stack itself: it is synthesized offline (no bundling, the
 * repository's cdk.json context) and each function's memory size, timeout, architecture, environment
 * and IAM actions are read from the template. A synth that fails stops the run: figures for a stack that
 * is not the one deployed mislead.
 */
export interface StackFunction {
  /** The entry under `functions/`; the stack names each function's construct after it. */
  entry: string;
  http: boolean;
  memoryMb: number;
  timeoutSeconds: number;
  architecture: string;
  /** Literal values as deployed; values the stack resolves at deploy time (table names, ARNs) as `null`. */
  environment: Record<string, string | null>;
  /** Every IAM action its role is granted. */
  actions: string[];
  /** Granted any `dynamodb:` action. */
  dynamo: boolean;
}

export interface StackFacts {
  functions: StackFunction[];
  /** The HTTP API's access-log format (JSON with `$context` placeholders), for the log-cost line. */
  accessLogFormat?: string;
  source: 'synth';
  note?: string;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Each TerraFunction of the stack by the logical id of its Lambda function; its construct id is its entry. */
function terraFunctions(stack: Stack): Map<string, string> {
  const byLogicalId = new Map<string, string>();
  for (const construct of stack.node.findAll()) {
    if (!(construct instanceof TerraFunction)) continue;
    const cfn = construct.function.node.defaultChild as CfnResource;
    byLogicalId.set(stack.getLogicalId(cfn), construct.node.id);
  }
  return byLogicalId;
}

function fromTemplate(
  template: { Resources: Record<string, Resource> },
  entries: Map<string, string>,
): StackFacts {
  const resources = Object.entries(template.Resources);
  const actionsByRole = new Map<string, Set<string>>();
  for (const [, resource] of resources) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const props = resource.Properties ?? {};
    const statements = asArray(
      (props.PolicyDocument as { Statement?: Array<{ Action?: string | string[] }> } | undefined)?.Statement,
    );
    for (const role of asArray(props.Roles as Array<{ Ref?: string }> | undefined)) {
      if (!role.Ref) continue;
      const actions = actionsByRole.get(role.Ref) ?? new Set<string>();
      for (const statement of statements) for (const action of asArray(statement.Action)) actions.add(action);
      actionsByRole.set(role.Ref, actions);
    }
  }
  const httpEntries = new Set<string>(ROUTES.map((route) => route.entry));
  const functions: StackFunction[] = [];
  for (const [logicalId, resource] of resources) {
    // Only TerraFunctions: the stack's custom resources (log retention, auto-delete) are not ours.
    const entry = entries.get(logicalId);
    if (resource.Type !== 'AWS::Lambda::Function' || entry === undefined) continue;
    const props = resource.Properties ?? {};
    const role = (props.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
    const actions = [...(role ? (actionsByRole.get(role) ?? []) : [])].sort();
    const variables =
      (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    functions.push({
      entry,
      http: httpEntries.has(entry),
      memoryMb: Number(props.MemorySize ?? 128),
      timeoutSeconds: Number(props.Timeout ?? 3),
      architecture: String(asArray(props.Architectures as string[] | undefined)[0] ?? 'x86_64'),
      environment: Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : null]),
      ),
      actions,
      dynamo: actions.some((action) => action.startsWith('dynamodb:')),
    });
  }
  const stage = resources.find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Stage')?.[1];
  const format = (stage?.Properties?.AccessLogSettings as { Format?: unknown } | undefined)?.Format;
  return {
    functions,
    ...(typeof format === 'string' ? { accessLogFormat: format } : {}),
    source: 'synth',
  };
}

export function readStack(): StackFacts {
  const outdir = mkdtempSync(join(tmpdir(), 'terra-bench-cdk-'));
  try {
    const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
      context?: Record<string, unknown>;
    };
    const { terraConnect, ...flags } = cdkJson.context ?? {};
    const app = new App({ outdir, context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
    const stack = new TerraConnectStack(app, 'TerraConnect', stackPropsFromContext(terraConnect));
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, Resource>;
    };
    const facts = fromTemplate(template, terraFunctions(stack));
    // No hand-kept copy of the stack to fall back on: figures for functions it does not deploy mislead.
    if (facts.functions.length === 0) throw new Error('the synthesized template holds no TerraFunction');
    return facts;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

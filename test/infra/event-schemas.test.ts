import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '#shared/events/schemas';
import { stackPropsFromContext } from '../../infra/context.ts';
import { TerraConnectStack } from '../../infra/terra-connect-stack.ts';

/**
 * The events' JSON Schemas in the stack's EventBridge schema registry, as the checked-in files
 * (schemas/events/) have them. The stack is synthesized without bundling its functions: this is about
 * the registry alone (test/infra/stack.test.ts runs cdk-nag on the whole stack, registry included).
 */
const CONTEXT = {
  jwtIssuer: 'https://auth.example.com/',
  jwtAudience: ['terra-connect-api'],
  redirectTargets: { web: { success: 'https://app.example.com/ok', failure: 'https://app.example.com/no' } },
};
const SCHEMA_DIR = resolve(import.meta.dirname, '../../schemas/events');

interface SchemaResource {
  Properties: { RegistryName: unknown; SchemaName: string; Type: string; Content: string };
}

let template: Template;
beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  template = Template.fromStack(new TerraConnectStack(app, 'TerraConnect', stackPropsFromContext(CONTEXT)));
});

const registryId = () => {
  const ids = Object.keys(template.findResources('AWS::EventSchemas::Registry'));
  expect(ids).toHaveLength(1);
  return ids[0] ?? '';
};

describe('the event schema registry', () => {
  it('is one registry of its own, named by CloudFormation and output for consumers', () => {
    template.resourceCountIs('AWS::EventSchemas::Registry', 1);
    template.hasResourceProperties('AWS::EventSchemas::Registry', {
      RegistryName: Match.absent(),
      Description: Match.stringLikeRegexp('source terra-connect'),
    });
    template.hasOutput('EventSchemaRegistryName', {
      Value: { 'Fn::GetAtt': [registryId(), 'RegistryName'] },
    });
  });

  it('holds the checked-in JSON Schema of every detail-type, in draft 4, named <source>@<detail-type>', () => {
    const schemas = Object.values(template.findResources('AWS::EventSchemas::Schema')) as SchemaResource[];
    expect(schemas.map((schema) => schema.Properties.SchemaName).sort()).toEqual(
      EVENT_TYPES.map((type) => `terra-connect@${type}`).sort(),
    );
    for (const type of EVENT_TYPES) {
      const schema = schemas.find((one) => one.Properties.SchemaName === `terra-connect@${type}`);
      expect(schema?.Properties.Type).toBe('JSONSchemaDraft4');
      expect(schema?.Properties.RegistryName).toEqual({ 'Fn::GetAtt': [registryId(), 'RegistryName'] });
      const file = JSON.parse(readFileSync(resolve(SCHEMA_DIR, `${type}.json`), 'utf8')) as unknown;
      expect(JSON.parse(schema?.Properties.Content ?? '{}'), `the registry's ${type}`).toEqual(file);
    }
  });
});

import { CfnRegistry, CfnSchema } from 'aws-cdk-lib/aws-eventschemas';
import { Construct } from 'constructs';
import { EVENT_SOURCE } from '#shared/events/bus-events';
import { EVENT_TYPES, eventJsonSchema } from '#shared/events/schemas';

/**
 * The events' contracts in an EventBridge schema registry (docs/architecture.md, "Events for the app"):
 * one schema per detail-type, the same JSON Schema as `schemas/events/<detail-type>.json`, where the
 * account's consumers look for the events of a bus. A changed contract becomes a new schema version on
 * deploy.
 */
export class EventSchemas extends Construct {
  readonly registry: CfnRegistry;
  readonly schemas: CfnSchema[];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Named by CloudFormation: a fixed name would collide between two stacks in one account and region.
    this.registry = new CfnRegistry(this, 'Registry', {
      description: `terra-connect: the events on its bus (source ${EVENT_SOURCE})`,
    });
    this.schemas = EVENT_TYPES.map(
      (type) =>
        new CfnSchema(this, type, {
          registryName: this.registry.attrRegistryName,
          // As EventBridge's schema discovery names them: `<source>@<detail-type>`.
          schemaName: `${EVENT_SOURCE}@${type}`,
          // Of the two types the registry takes (OpenApi3, JSONSchemaDraft4), the one the files are in.
          type: 'JSONSchemaDraft4',
          content: JSON.stringify(eventJsonSchema(type)),
          description: `The ${type} event as a rule's target receives it`,
        }),
    );
  }
}

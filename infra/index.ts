/**
 * `terra-connect/cdk`: the backend as one construct for your CDK app (README, "Use it in your app").
 * Its functions come prebuilt in the package; `aws-cdk-lib` and `constructs` are yours.
 */
export { EVENT_SOURCE } from '#shared/events/bus-events';
export type { ExistingTable, ExistingTables } from './constructs/storage.ts';
export {
  TerraConnect,
  type TerraConnectFunctions,
  type TerraConnectProps,
  type TerraFunctionName,
} from './terra-connect.ts';
export type {
  ArchiveRetention,
  IdentityProvider,
  RedirectTarget,
  TerraConnectSettingsProps,
  Throttle,
} from './terra-connect-props.ts';

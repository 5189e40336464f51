import { referenceConnection } from '../property/reference-model.ts';
import { type LifecycleOptions, lifecycleStream, type Stream } from './traffic.ts';

/**
 * The Terra-like traffic of test/helpers/traffic.ts as the load and fault tests use it: lifecycle streams
 * checked against the property tests' independent reference model.
 */
export {
  checkAgainstReference,
  type Delivery,
  type DriveReport,
  deliverLikeTerra as drive,
  prng,
  type Stream,
} from './traffic.ts';

export function generateStream(options: LifecycleOptions): Stream {
  return lifecycleStream(options, referenceConnection);
}

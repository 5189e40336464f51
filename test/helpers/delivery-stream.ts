import { type LifecycleOptions, lifecycleStream, type Stream } from '#local/traffic';
import { referenceConnection } from '../property/reference-model.ts';

/**
 * The Terra-like traffic of local/traffic.ts as the load and fault tests use it: lifecycle streams
 * checked against the property tests' independent reference model.
 */
export {
  checkAgainstReference,
  type Delivery,
  type DriveReport,
  deliverLikeTerra as drive,
  prng,
  type Stream,
} from '#local/traffic';

export function generateStream(options: LifecycleOptions): Stream {
  return lifecycleStream(options, referenceConnection);
}

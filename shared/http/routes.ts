import { FUNCTIONS, type HttpEntry, type Route } from '#shared/handlers/manifest';

/**
 * The HTTP API, as data (docs/architecture.md, "Flows"): the `route` of each function in the manifest.
 * The CDK construct, the local adapter and the OpenAPI document all build from this list, so a route
 * cannot exist in one and not the other.
 */
export interface RouteSpec extends Route {
  /** The function the route calls: its entry file under `functions/`, without extension. */
  entry: HttpEntry;
}

export const ROUTES: readonly RouteSpec[] = Object.entries(FUNCTIONS).flatMap(([entry, spec]) =>
  'route' in spec ? [{ ...spec.route, entry: entry as HttpEntry }] : [],
);

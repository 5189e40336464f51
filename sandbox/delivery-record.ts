/**
 * One webhook delivery as the sandbox records it (`GET /sandbox/deliveries`). Its own module, free of
 * Node imports, so the demo page (browser code) can share the type.
 */
export interface Delivery {
  trace_id: string;
  /** What went out: for a body too large to send inline, `s3_payload`. */
  type: string;
  /** For an `s3_payload`, the type of the event its URL serves. */
  payload_type?: string;
  user_id?: string;
  /** The `terra-reference` header: the `reference` of the data request that caused this delivery. */
  terra_reference?: string;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed';
  last_status?: number;
  created_at: string;
}

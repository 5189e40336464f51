/** The slice of s3rver's API the S3 archive test uses (the package ships no types). */
declare module 's3rver' {
  import type { Server } from 'node:net';

  interface S3rverOptions {
    port?: number;
    address?: string;
    silent?: boolean;
    directory: string;
    configureBuckets?: Array<{ name: string }>;
  }

  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<ReturnType<Server['address']>>;
    close(): Promise<void>;
  }
}

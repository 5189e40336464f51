import { createSdkTokenHandler } from '#shared/handlers/create-sdk-token';

// The Lambda entry: the environment is read once, at cold start; a missing setting fails here, named.
export const handler = createSdkTokenHandler(process.env);

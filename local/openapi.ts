import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { openApiDocument } from '#shared/http/openapi';

/**
 * `npm run openapi`: writes the OpenAPI document (`openapi.json`) and the client's types generated from
 * it (`client/schema.ts`). Both are checked in; `test/unit/openapi.test.ts` fails when either differs
 * from what this would write.
 */
const root = (file: string) => fileURLToPath(new URL(`../${file}`, import.meta.url));

export const OPENAPI_FILES = { document: 'openapi.json', clientTypes: 'client/schema.ts' } as const;

/** The text of both files, as this commit's code describes the API. */
export async function generateOpenApi(): Promise<Record<keyof typeof OPENAPI_FILES, string>> {
  const { version } = JSON.parse(readFileSync(root('package.json'), 'utf8')) as { version: string };
  const document = openApiDocument(version);
  // `{}` in the document (a webhook payload's other fields) reads as `unknown`, never as `any`.
  const ast = await openapiTS(JSON.parse(JSON.stringify(document)), { emptyObjectsUnknown: true });
  return {
    document: `${JSON.stringify(document, null, 2)}\n`,
    clientTypes: `${COMMENT_HEADER.replace('openapi-typescript', 'openapi-typescript from openapi.json (npm run openapi)')}${astToString(ast)}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = await generateOpenApi();
  for (const [name, path] of Object.entries(OPENAPI_FILES)) {
    writeFileSync(root(path), files[name as keyof typeof OPENAPI_FILES]);
    console.log(`wrote ${path}`);
  }
}

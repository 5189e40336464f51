import { verifyTerraWebhookSignature } from 'terra-api';
import { signPayload, verifySignature } from '#shared/terra/signature';
import { median, round } from '../support/stats.ts';

/**
 * Signature verification (requirement 7): ours against `terra-api`'s `verifyTerraWebhookSignature`,
 * each from what it is given in a handler: API Gateway hands the body over as a string; ours first
 * turns it into the exact bytes (as `rawBody` does, cost included), terra-api hashes the string. Both
 * awaited, one signature, one secret, a timestamp inside the tolerance. Rounds alternate between the
 * two; the first round of each is warm-up; the median counts.
 */
export interface VerifyRow {
  bodyBytes: number;
  oursOpsPerSec: number;
  terraApiOpsPerSec: number;
  ratio: number;
}

async function opsPerSecond(run: () => Promise<unknown>, ms: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 10; i++) await run();
    ops += 10;
    elapsed = performance.now() - start;
  }
  return (ops / elapsed) * 1000;
}

/** A JSON body of about `bytes` bytes, shaped like a data webhook. */
function body(bytes: number): string {
  const head = '{"type":"activity","user":{"user_id":"40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad"},"data":[';
  const sample = '{"timestamp":"2026-07-01T07:04:11.000000+01:00","bpm":123},';
  const count = Math.max(0, Math.floor((bytes - head.length - 2) / sample.length));
  return `${head}${sample.repeat(count).slice(0, -1)}]}`.padEnd(bytes, ' ');
}

export async function measureVerify(msPerRound: number, rounds = 5): Promise<VerifyRow[]> {
  const secret = 'bench-signing-secret';
  const rows: VerifyRow[] = [];
  for (const bodyBytes of [1024, 10 * 1024, 1024 * 1024]) {
    const text = body(bodyBytes);
    const t = Math.floor(Date.now() / 1000);
    const header = `t=${t},v1=${signPayload(secret, t, text)}`;
    const ours = async () => {
      const check = verifySignature({
        header,
        rawBody: Buffer.from(text, 'utf8'),
        secrets: [secret],
        nowSeconds: Math.floor(Date.now() / 1000),
        toleranceSeconds: 300,
      });
      if (!check.ok) throw new Error(`our verifier rejected the bench body: ${check.reason}`);
    };
    const theirs = () => verifyTerraWebhookSignature(text, header, secret);
    await ours();
    await theirs();
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        a.push(await opsPerSecond(ours, msPerRound));
        b.push(await opsPerSecond(theirs, msPerRound));
      } else {
        b.push(await opsPerSecond(theirs, msPerRound));
        a.push(await opsPerSecond(ours, msPerRound));
      }
    }
    const oursOps = median(a.slice(1));
    const theirsOps = median(b.slice(1));
    rows.push({
      bodyBytes,
      oursOpsPerSec: Math.round(oursOps),
      terraApiOpsPerSec: Math.round(theirsOps),
      ratio: round(oursOps / theirsOps),
    });
  }
  return rows;
}

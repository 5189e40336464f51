import { cpus } from 'node:os';
import { signPayload, verifySignature } from '../shared/terra/signature.ts';

/**
 * `npm run bench`: benchmarks are measurements, not tests; they never fail on a number. This first
 * one times signature verification per body size; cold start, throughput and memory follow.
 */
function opsPerSecond(run: () => void, minMs = 500): number {
  for (let i = 0; i < 50; i++) run();
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 20; i++) run();
    ops += 20;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return (ops / elapsed) * 1000;
}

const secret = 'bench-secret';
const rows = [1024, 10 * 1024, 1024 * 1024].map((bodyBytes) => {
  const body = Buffer.alloc(bodyBytes, 'a');
  const t = Math.floor(Date.now() / 1000);
  const header = `t=${t},v1=${signPayload(secret, t, body)}`;
  const ours = opsPerSecond(() => {
    verifySignature({ header, rawBody: body, secrets: [secret], nowSeconds: t, toleranceSeconds: 300 });
  });
  return { bodyBytes, oursOpsPerSec: Math.round(ours) };
});

console.log(`cpu: ${cpus()[0]?.model} · node ${process.version}`);
console.table(rows);

import { jwtVerify, SignJWT } from 'jose';

/**
 * Local stand-in for API Gateway's JWT authorizer: HS256 tokens minted by `POST /dev/token`. It checks
 * what the real authorizer checks (signature, issuer, audience, expiry, which must be present) and accepts
 * no other algorithm.
 */
export const LOCAL_ISSUER = 'terra-connect-local';
export const LOCAL_AUDIENCE = 'terra-connect';

export interface DevAuth {
  mint(claims: { sub: string } & Record<string, unknown>): Promise<string>;
  verify(token: string): Promise<Record<string, unknown>>;
}

export function createDevAuth(secret: string): DevAuth {
  const key = new TextEncoder().encode(secret);
  return {
    mint: (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(LOCAL_ISSUER)
        .setAudience(LOCAL_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('12h')
        .sign(key),
    verify: async (token) => {
      const { payload } = await jwtVerify(token, key, {
        issuer: LOCAL_ISSUER,
        audience: LOCAL_AUDIENCE,
        algorithms: ['HS256'],
        // API Gateway refuses a token without exp; jose alone would take it as never expiring.
        requiredClaims: ['exp'],
      });
      return payload as Record<string, unknown>;
    },
  };
}

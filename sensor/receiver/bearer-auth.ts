/**
 * Bearer-token authentication of OTLP senders: `Authorization: Bearer <token>` against the tokens of a directory,
 * one file per client. The check runs before a byte of the body is read or decoded.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { WatchedSecret } from '../common/secret-file';

export type AuthOutcome = { ok: true; client: string } | { ok: false; reason: RejectionReason };

/** `missing`: no bearer credentials at all; `invalid`: a token that is not one of the accepted ones. */
export type RejectionReason = 'missing' | 'invalid';

interface AcceptedToken {
  client: string;
  digest: Buffer;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class BearerTokenAuth {
  private accepted: AcceptedToken[] = [];
  private acceptedFrom?: Map<string, string>;

  /** `tokens`: client name -> token, kept current by its watcher (a rotation swaps the map). */
  constructor(private readonly tokens: WatchedSecret<Map<string, string>>) {}

  check(authorization: string | undefined): AuthOutcome {
    const match = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!match) return { ok: false, reason: 'missing' };
    // Digests have one length whatever was sent, so every comparison is constant-time and no early exit shows how
    // much of a token was right; every accepted token is compared, so the time does not say which one matched.
    const presented = sha256(match[1]);
    let client: string | undefined;
    for (const token of this.acceptedTokens()) {
      if (timingSafeEqual(presented, token.digest) && client === undefined) client = token.client;
    }
    return client === undefined ? { ok: false, reason: 'invalid' } : { ok: true, client: clientName(client) };
  }

  /** How many tokens are accepted now. */
  clientCount(): number {
    return this.acceptedTokens().length;
  }

  private acceptedTokens(): AcceptedToken[] {
    const tokens = this.tokens.current();
    if (tokens !== this.acceptedFrom) {
      this.accepted = [...tokens].map(([client, token]) => ({ client, digest: sha256(token) }));
      this.acceptedFrom = tokens;
    }
    return this.accepted;
  }
}

/** `payments.previous` (a token being rotated out) authenticates the client `payments`. */
function clientName(fileName: string): string {
  return fileName.replace(/\.previous$/, '');
}

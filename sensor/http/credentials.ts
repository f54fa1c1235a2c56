/**
 * The one place where credentials are dropped from HTTP messages, at parse time, so no later stage
 * (provider, span, pipeline, exporter, log) ever sees them. Both HTTP decoders call these functions.
 */
import type { HeaderMap } from './http-exchange';

/** Header names (lower-case) that carry credentials, session state or signature material. */
export const CREDENTIAL_HEADER_NAMES: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'cookie',
  'set-cookie',
  'x-amz-security-token',
  'x-amz-date',
  'x-amz-content-sha256',
  'x-amz-signature',
  'x-amz-credential',
];

/**
 * Every `x-amz-*` header is treated as a possible SigV4 part (the signed-header set varies per SDK),
 * except these, which carry routing or request ids and no secret.
 */
export const NON_CREDENTIAL_AMZ_HEADER_NAMES: readonly string[] = [
  'x-amz-target',
  'x-amz-user-agent',
  'x-amz-request-id',
  'x-amz-id-2',
  'x-amz-apigw-id',
  'x-amz-cf-id',
  'x-amz-cf-pop',
];

/** Query parameter names (compared case-insensitively) that carry keys, tokens or presigned-URL signature parts. */
export const CREDENTIAL_QUERY_PARAMS: readonly string[] = [
  'api-key',
  'api_key',
  'key',
  'access_token',
  'token',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'X-Amz-Date',
];

const credentialHeaderSet = new Set(CREDENTIAL_HEADER_NAMES);
const nonCredentialAmzHeaderSet = new Set(NON_CREDENTIAL_AMZ_HEADER_NAMES);
const credentialQuerySet = new Set(CREDENTIAL_QUERY_PARAMS.map((name) => name.toLowerCase()));

/** True when a header of this name must never leave the decoder. */
export function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  if (credentialHeaderSet.has(lower)) return true;
  return lower.startsWith('x-amz-') && !nonCredentialAmzHeaderSet.has(lower);
}

/** Fields naming the target host, which may carry `user:password@`. */
const AUTHORITY_HEADER_NAMES = new Set(['host', ':authority']);

/** True for a field naming the target host, whose value is kept only through stripCredentialAuthority. */
export function isAuthorityHeader(name: string): boolean {
  return AUTHORITY_HEADER_NAMES.has(name.toLowerCase());
}

/** A copy of `headers` without credential headers and without userinfo in the host; the input is not modified. */
export function stripCredentialHeaders(headers: HeaderMap): HeaderMap {
  const kept: HeaderMap = {};
  for (const name of Object.keys(headers)) {
    if (isCredentialHeader(name)) continue;
    kept[name] = isAuthorityHeader(name) ? stripCredentialAuthority(headers[name]) : headers[name];
  }
  return kept;
}

function queryParamName(param: string): string {
  const eq = param.indexOf('=');
  const raw = eq < 0 ? param : param.slice(0, eq);
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    // A malformed escape cannot hide a known name behind it unless decoded; compare it raw.
    return raw.toLowerCase();
  }
}

/** `path` with credential query parameters removed; all other parameters keep their order and exact spelling. */
export function stripCredentialQuery(path: string): string {
  const q = path.indexOf('?');
  if (q < 0) return path;
  const hash = path.indexOf('#', q);
  const queryEnd = hash < 0 ? path.length : hash;
  const params = path.slice(q + 1, queryEnd).split('&');
  const kept = params.filter((param) => !credentialQuerySet.has(queryParamName(param)));
  if (kept.length === params.length) return path;
  const fragment = hash < 0 ? '' : path.slice(hash);
  return kept.length === 0 ? path.slice(0, q) + fragment : `${path.slice(0, q)}?${kept.join('&')}${fragment}`;
}

/** An authority (`Host` / `:authority`) without any `user:password@` part. */
export function stripCredentialAuthority(authority: string): string {
  const at = authority.lastIndexOf('@');
  return at < 0 ? authority : authority.slice(at + 1);
}

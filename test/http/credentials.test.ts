import {
  CREDENTIAL_HEADER_NAMES,
  CREDENTIAL_QUERY_PARAMS,
  stripCredentialAuthority,
  stripCredentialHeaders,
  stripCredentialQuery,
} from '../../sensor/http/credentials';

describe('stripCredentialHeaders', () => {
  it('drops every listed credential header and keeps the rest untouched', () => {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': '12' };
    for (const name of CREDENTIAL_HEADER_NAMES) headers[name] = `secret-for-${name}`;
    const stripped = stripCredentialHeaders(headers);
    expect(stripped).toEqual({ 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': '12' });
    expect(Object.keys(headers)).toHaveLength(CREDENTIAL_HEADER_NAMES.length + 2);
  });

  it('covers the required names', () => {
    for (const name of ['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie',
      'x-amz-security-token', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-signature', 'x-amz-credential']) {
      expect(stripCredentialHeaders({ [name]: 'v' })).toEqual({});
    }
  });

  it('treats unknown x-amz-* headers as signature parts but keeps routing ids', () => {
    expect(stripCredentialHeaders({
      'x-amz-signedheaders': 'host;x-amz-date',
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-target': 'BedrockRuntime.Converse',
      'x-amz-request-id': 'r1',
      'x-amzn-requestid': 'r2',
    })).toEqual({ 'x-amz-target': 'BedrockRuntime.Converse', 'x-amz-request-id': 'r1', 'x-amzn-requestid': 'r2' });
  });

  it('removes userinfo from host and :authority', () => {
    expect(stripCredentialHeaders({ host: 'alice:pw@api.example.com', ':authority': 'bob@h:8443' })).toEqual({ host: 'api.example.com', ':authority': 'h:8443' });
  });
});

describe('stripCredentialQuery', () => {
  it.each([
    ['/v1/models', '/v1/models'],
    ['/openai/deployments/d/chat/completions?api-version=2024-06-01&api-key=s3cret', '/openai/deployments/d/chat/completions?api-version=2024-06-01'],
    ['/v1beta/models/g:generateContent?key=AIza123&alt=sse', '/v1beta/models/g:generateContent?alt=sse'],
    ['/x?API_KEY=1&Token=2&ACCESS_TOKEN=3', '/x'],
    ['/x?a=1&x-amz-signature=abc&X-Amz-Credential=AKIA%2F1&X-Amz-Security-Token=t&x-amz-date=20250101T000000Z&b=2', '/x?a=1&b=2'],
    ['/x?%6Bey=encoded-name&keep=1', '/x?keep=1'],
    ['/x?monkey=1&keys=2&tokenizer=3', '/x?monkey=1&keys=2&tokenizer=3'],
    ['/x?a=1&&b=%zz', '/x?a=1&&b=%zz'],
    ['/x?token', '/x'],
    ['/x?a=1&key=2#frag', '/x?a=1#frag'],
  ])('%s -> %s', (path, expected) => {
    expect(stripCredentialQuery(path)).toBe(expected);
  });

  it('knows every required parameter name', () => {
    for (const name of CREDENTIAL_QUERY_PARAMS) expect(stripCredentialQuery(`/p?${name.toUpperCase()}=v`)).toBe('/p');
  });
});

describe('stripCredentialAuthority', () => {
  it('keeps host and port only', () => {
    expect(stripCredentialAuthority('u:p@host:443')).toBe('host:443');
    expect(stripCredentialAuthority('host')).toBe('host');
  });
});

/**
 * RFC 6902 JSON Patch (add, remove, replace, test) over a copy of a document, as the Kubernetes API server applies
 * `application/json-patch+json`. A failed `test` or a missing path throws, and the document is left as it was.
 */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export class JsonPatchError extends Error {}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new JsonPatchError(`json patch: "${path}" is not a JSON pointer`);
  return path.slice(1).split('/').map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(document: any, tokens: string[], path: string): { parent: any; key: string } {
  let node = document;
  for (const token of tokens.slice(0, -1)) {
    if (node === null || typeof node !== 'object' || !(token in node)) throw new JsonPatchError(`json patch: ${path} does not exist`);
    node = node[token];
  }
  return { parent: node, key: tokens[tokens.length - 1] };
}

export function applyJsonPatch<T>(document: T, operations: JsonPatchOperation[]): T {
  const result: any = structuredClone(document);
  for (const operation of operations) {
    const tokens = pointer(operation.path);
    if (tokens.length === 0) throw new JsonPatchError('json patch: the whole document cannot be patched here');
    const { parent, key } = parentOf(result, tokens, operation.path);
    const isArray = Array.isArray(parent);
    const index = isArray ? (key === '-' ? parent.length : Number(key)) : -1;
    const exists = isArray ? index >= 0 && index < parent.length : parent !== null && typeof parent === 'object' && key in parent;
    switch (operation.op) {
      case 'test':
        if (!exists || JSON.stringify(parent[key]) !== JSON.stringify(operation.value)) {
          throw new JsonPatchError(`json patch: test failed at ${operation.path}`);
        }
        break;
      case 'replace':
        if (!exists) throw new JsonPatchError(`json patch: ${operation.path} does not exist`);
        parent[key] = structuredClone(operation.value);
        break;
      case 'add':
        if (isArray) parent.splice(index, 0, structuredClone(operation.value));
        else parent[key] = structuredClone(operation.value);
        break;
      case 'remove':
        if (!exists) throw new JsonPatchError(`json patch: ${operation.path} does not exist`);
        if (isArray) parent.splice(index, 1);
        else delete parent[key];
        break;
      default:
        throw new JsonPatchError(`json patch: unsupported op ${(operation as JsonPatchOperation).op}`);
    }
  }
  return result;
}

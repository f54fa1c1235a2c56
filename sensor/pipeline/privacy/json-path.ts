/**
 * The JSONPath subset that obfuscation paths are written in: `$`, `.name`, `['name']`, `[N]`, `[*]`, `.*`
 * and `..name` / `..*` (any depth). Hand-written because the only JSONPath libraries evaluate filter
 * expressions as code, which a config file should not be able to do; this subset never executes anything.
 */

type PathStep =
  | { kind: 'child'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'wildcard' }
  | { kind: 'descendant'; name?: string };

export interface JsonPath {
  source: string;
  steps: PathStep[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*/;

/** Parses a path; throws an Error naming the position and what was expected. */
export function parseJsonPath(source: string): JsonPath {
  if (!source.startsWith('$')) throw new Error(`JSON path "${source}" must start with "$"`);
  const steps: PathStep[] = [];
  let pos = 1;
  const fail = (expected: string): never => {
    throw new Error(`JSON path "${source}": expected ${expected} at position ${pos}`);
  };
  while (pos < source.length) {
    if (source.startsWith('..', pos)) {
      pos += 2;
      if (source[pos] === '*') {
        pos += 1;
        steps.push({ kind: 'descendant' });
        continue;
      }
      const name = NAME.exec(source.slice(pos))?.[0] ?? fail('a member name or "*" after ".."');
      pos += name.length;
      steps.push({ kind: 'descendant', name });
    } else if (source[pos] === '.') {
      pos += 1;
      if (source[pos] === '*') {
        pos += 1;
        steps.push({ kind: 'wildcard' });
        continue;
      }
      const name = NAME.exec(source.slice(pos))?.[0] ?? fail('a member name or "*" after "."');
      pos += name.length;
      steps.push({ kind: 'child', name });
    } else if (source[pos] === '[') {
      const close = source.indexOf(']', pos);
      if (close < 0) fail('"]"');
      const inner = source.slice(pos + 1, close).trim();
      if (inner === '*') steps.push({ kind: 'wildcard' });
      else if (/^[0-9]+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ kind: 'child', name: inner.slice(1, -1) });
      else fail('"*", an index or a quoted member name inside "[...]"');
      pos = close + 1;
    } else {
      fail('".", ".." or "["');
    }
  }
  if (steps.length === 0) throw new Error(`JSON path "${source}" selects the whole document; use the request or response switches instead`);
  return { source, steps };
}

type Container = Record<string, unknown> | unknown[];

function isContainer(node: unknown): node is Container {
  return node !== null && typeof node === 'object';
}

function childEntries(node: Container): Array<[string | number, unknown]> {
  return Array.isArray(node) ? node.map((value, index) => [index, value]) : Object.entries(node);
}

function setChild(node: Container, key: string | number, value: unknown): void {
  (node as Record<string | number, unknown>)[key] = value;
}

/** Replaces every value selected by `path` inside `document` (mutated in place) with `marker`; returns the match count. */
export function replaceAtPath(document: unknown, path: JsonPath, marker: string): number {
  let count = 0;
  const visit = (node: unknown, stepIndex: number): void => {
    if (!isContainer(node)) return;
    const step = path.steps[stepIndex];
    const last = stepIndex === path.steps.length - 1;
    const hit = (key: string | number, value: unknown): void => {
      if (last) {
        setChild(node, key, marker);
        count++;
      } else {
        visit(value, stepIndex + 1);
      }
    };
    switch (step.kind) {
      case 'child':
        if (!Array.isArray(node) && Object.prototype.hasOwnProperty.call(node, step.name)) hit(step.name, node[step.name]);
        break;
      case 'index':
        if (Array.isArray(node) && step.index < node.length) hit(step.index, node[step.index]);
        break;
      case 'wildcard':
        for (const [key, value] of childEntries(node)) hit(key, value);
        break;
      case 'descendant':
        for (const [key, value] of childEntries(node)) {
          if (step.name === undefined || key === step.name) hit(key, value);
          // Keep descending below a match unless it was just replaced.
          if (!(last && (step.name === undefined || key === step.name))) visit(value, stepIndex);
        }
        break;
    }
  };
  visit(document, 0);
  return count;
}

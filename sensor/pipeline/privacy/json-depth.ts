/**
 * Parsing of JSON attribute values for the privacy stage with a bound on nesting. JSON.parse itself copes with any
 * depth, but walking the result and re-serialising it recurse, and a document nested thousands deep (from a buggy or
 * hostile app over OTLP) would throw a RangeError that fails the whole OTLP batch instead of one value.
 */

/** Deepest nesting kept; real message documents and tool arguments stay far below it. */
export const MAX_JSON_DEPTH = 64;

type Container = Record<string, unknown> | unknown[];

function isContainer(node: unknown): node is Container {
  return node !== null && typeof node === 'object';
}

/**
 * Replaces, in place, every container nested deeper than MAX_JSON_DEPTH with `marker`; recursion stops at that depth.
 * Returns how many were replaced.
 */
function cutBelowMaxDepth(node: Container, depth: number, marker: string): number {
  let cut = 0;
  const visitChild = (key: string | number, child: unknown): void => {
    if (!isContainer(child)) return;
    if (depth < MAX_JSON_DEPTH) {
      cut += cutBelowMaxDepth(child, depth + 1, marker);
    } else {
      (node as Record<string | number, unknown>)[key] = marker;
      cut++;
    }
  };
  if (Array.isArray(node)) node.forEach((child, index) => visitChild(index, child));
  else for (const key of Object.keys(node)) visitChild(key, node[key]);
  return cut;
}

export interface BoundedJsonDocument {
  document: unknown;
  /** True when something nested too deep was replaced: the original text must then not be passed on as it is. */
  cut: boolean;
}

/**
 * `json` parsed, with anything nested deeper than MAX_JSON_DEPTH replaced by `marker` (which hides it rather than
 * lets it through). Throws a SyntaxError, as JSON.parse does, when `json` is not JSON.
 */
export function parseJsonWithinDepth(json: string, marker: string): BoundedJsonDocument {
  const document: unknown = JSON.parse(json);
  return { document, cut: isContainer(document) && cutBelowMaxDepth(document, 1, marker) > 0 };
}

/**
 * A pure function of a key, remembered for up to `maxEntries` keys: the per-call path asks the same questions of
 * the same few names and paths on every call. When full, the table starts afresh (refilled cheaply, memory bounded).
 */
export function remembered<K, V>(compute: (key: K) => V, maxEntries: number): (key: K) => V {
  const known = new Map<K, V>();
  return (key) => {
    const hit = known.get(key);
    if (hit !== undefined || known.has(key)) return hit as V;
    const value = compute(key);
    if (known.size >= maxEntries) known.clear();
    known.set(key, value);
    return value;
  };
}

/**
 * `remembered` for text keys that a peer chooses (request paths): keys longer than `maxKeyLength` are answered
 * without being kept, so the table never holds more than `maxEntries` short texts, whatever the traffic sends.
 */
export function rememberedText<V>(compute: (key: string) => V, maxEntries: number, maxKeyLength: number): (key: string) => V {
  const remember = remembered(compute, maxEntries);
  return (key) => (key.length > maxKeyLength ? compute(key) : remember(key));
}

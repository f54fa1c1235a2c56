/** Why an HPACK header block could not be decoded; after any of these the dynamic table is out of step with the peer's. */
export type HpackErrorCode =
  | 'bad-index'
  | 'bad-huffman'
  | 'integer-overflow'
  | 'truncated-block'
  | 'table-size-over-limit'
  | 'misplaced-table-size-update';

export class HpackError extends Error {
  constructor(
    readonly code: HpackErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HpackError';
  }
}

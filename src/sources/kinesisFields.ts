/**
 * The metadata fields of a Kinesis record that a SourceRecord carries, read the same way from every transport: the
 * SDK's `_Record` and Kinesis JSON (PascalCase: `PartitionKey`), and Lambda events (camelCase: `partitionKey`). A new
 * record field is one entry of KINESIS_FIELDS (and its type in SourceRecord, src/types.ts); every mapper in
 * src/sources/ then carries it.
 */
import type { SourceRecord } from '../types.js';
import { arrivalTimeMs } from './arrivalTime.js';

type Fields = Pick<SourceRecord, 'partitionKey' | 'arrivalTime'>;

interface FieldSpec<V> {
  /** Its name in the Kinesis API, the SDK and get-records JSON. */
  pascal: string;
  /** Its name in a Lambda Kinesis event's `kinesis` object. */
  camel: string;
  /** The value, or undefined when it is absent or unusable. */
  read: (v: unknown) => V | undefined;
}

const KINESIS_FIELDS: { [K in keyof Fields]-?: FieldSpec<NonNullable<Fields[K]>> } = {
  partitionKey: { pascal: 'PartitionKey', camel: 'partitionKey', read: (v) => (typeof v === 'string' ? v : undefined) },
  arrivalTime: { pascal: 'ApproximateArrivalTimestamp', camel: 'approximateArrivalTimestamp', read: arrivalTimeMs },
};

/** Sets on `record` every field `from` has, named the transport's way. */
export function setKinesisFields(record: SourceRecord, from: object, naming: 'pascal' | 'camel'): SourceRecord {
  const o = from as Record<string, unknown>;
  for (const [key, spec] of Object.entries(KINESIS_FIELDS) as [keyof Fields, FieldSpec<unknown>][]) {
    const v = spec.read(o[spec[naming]]);
    if (v !== undefined) (record as unknown as Record<string, unknown>)[key] = v;
  }
  return record;
}

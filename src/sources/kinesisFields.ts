/**
 * The metadata fields of a Kinesis record that a SourceRecord carries, read the same way from every transport: the
 * SDK's `_Record` and Kinesis JSON (PascalCase: `PartitionKey`), and Lambda events (camelCase: `partitionKey`).
 *
 * KINESIS_FIELDS is the one place such a field is declared. To add one (say `EncryptionType`), add its entry:
 *   encryptionType: { pascal: 'EncryptionType', camel: 'encryptionType', read: text },
 * with a doc comment saying what it holds. That is the whole edit: SourceRecord (src/types.ts) takes its optional
 * fields from this table (KinesisRecordFields, typed by what `read` returns, its doc comment kept), and every
 * mapper of src/sources/ (kinesisSdk.ts, kinesisJson.ts, lambdaEvent.ts) sets it through setKinesisFields.
 * test/unit/sources.test.ts then asks for a raw example of the field in each transport's fixture.
 */
import { arrivalTimeMs } from './arrivalTime.js';

interface FieldSpec<V> {
  /** Its name in the Kinesis API, the SDK and get-records JSON. */
  pascal: string;
  /** Its name in a Lambda Kinesis event's `kinesis` object. */
  camel: string;
  /** The value, or undefined when it is absent or unusable. */
  read: (v: unknown) => V | undefined;
}

/** A text value, as it is. */
function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export const KINESIS_FIELDS = {
  partitionKey: { pascal: 'PartitionKey', camel: 'partitionKey', read: text },
  /** ApproximateArrivalTimestamp, as epoch milliseconds (arrivalTime.ts: the one conversion). */
  arrivalTime: { pascal: 'ApproximateArrivalTimestamp', camel: 'approximateArrivalTimestamp', read: arrivalTimeMs },
} satisfies Record<string, FieldSpec<unknown>>;

/** The fields of KINESIS_FIELDS as a SourceRecord holds them: each optional, of the type its `read` returns. */
export type KinesisRecordFields = {
  -readonly [K in keyof typeof KINESIS_FIELDS]?: NonNullable<ReturnType<(typeof KINESIS_FIELDS)[K]['read']>>;
};

/** Sets on `record` every field `from` has, named the transport's way. */
export function setKinesisFields<R extends KinesisRecordFields>(record: R, from: object, naming: 'pascal' | 'camel'): R {
  const o = from as Record<string, unknown>;
  const out = record as Record<string, unknown>;
  for (const [key, spec] of Object.entries(KINESIS_FIELDS) as [keyof KinesisRecordFields, FieldSpec<unknown>][]) {
    const v = spec.read(o[spec[naming]]);
    if (v !== undefined) out[key] = v;
  }
  return record;
}

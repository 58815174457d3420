// Reads a table's stream in order, one JSON log line per record. A record whose new image has `poison`
// is reported as a batch item failure, and the records after it in the batch are left unprocessed (they
// come again from the checkpoint), so every other record is logged once.
export const handler = async (event) => {
  for (const r of event.Records) {
    const image = r.dynamodb.NewImage ?? {};
    if (image.poison) {
      console.log(JSON.stringify({ poisoned: { pk: image.pk.S, seq: r.dynamodb.SequenceNumber, batch: event.Records.length } }));
      return { batchItemFailures: [{ itemIdentifier: r.dynamodb.SequenceNumber }] };
    }
    console.log(JSON.stringify({ streamed: { pk: r.dynamodb.Keys.pk.S, v: Number(image.v.N), eventName: r.eventName, seq: r.dynamodb.SequenceNumber } }));
  }
  return { batchItemFailures: [] };
};

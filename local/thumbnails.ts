/** Each completed job's thumb rendition as a data: URI, so that report.html shows it and stays self-contained. */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { PipelineClients } from './producer';
import type { JobResult } from './run-jobs';

/** Largest thumbnail embedded (bytes); a bigger one is linked by key only. */
const MAX_THUMB_BYTES = 64 * 1024;

export async function thumbnailDataUris(clients: PipelineClients, bucket: string, jobs: readonly JobResult[]): Promise<Map<JobResult, string>> {
  const out = new Map<JobResult, string>();
  const limit = pLimit(8);
  await Promise.all(
    jobs.map((job) =>
      limit(async () => {
        const thumb = job.renditions.find((r) => r.name === 'thumb') ?? [...job.renditions].sort((a, b) => a.bytes - b.bytes)[0];
        if (!thumb || thumb.bytes > MAX_THUMB_BYTES) return;
        try {
          const obj = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: thumb.key }));
          const bytes = await obj.Body!.transformToByteArray();
          out.set(job, `data:image/${thumb.format === 'jpeg' ? 'jpeg' : thumb.format};base64,${Buffer.from(bytes).toString('base64')}`);
        } catch {
          // a missing thumbnail leaves an empty cell; the row still says what happened
        }
      }),
    ),
  );
  return out;
}

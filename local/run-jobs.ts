/**
 * One `npm start` run, whatever the target: submit every file as the producer would, follow the jobs
 * until each is completed / failed / dead-lettered, sample the backpressure picture, collect results.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import pLimit from 'p-limit';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { STACK_OUTPUTS } from '../lambda/shared/contract';
import type { JobRecord, RenditionRecord } from '../lambda/shared/job-record';
import { ApiRequestError, contentTypeFor, type ApiClient } from './api-client';
import { getJob, queueDepth, submitDirect, type PipelineClients } from './producer';
import type { TimelineSample } from './report';

/** `failed` includes files the producer path refused (the API's 4xx): they carry its reason. */
export type JobStatusOut = 'completed' | 'failed' | 'dead-lettered' | 'pending';

export interface JobResult {
  readonly file: string;
  readonly jobId: string | null;
  readonly status: JobStatusOut;
  readonly renditions: ReadonlyArray<Pick<RenditionRecord, 'name' | 'key' | 'width' | 'height' | 'bytes' | 'format'>>;
  readonly error?: { readonly class: string; readonly reason: string };
}

export interface RunJobsOptions {
  readonly files: readonly string[];
  readonly clients: PipelineClients;
  readonly outputs: Readonly<Record<string, string>>;
  /** Submit through the job API (presigned upload + POST /jobs) instead of directly. */
  readonly api?: ApiClient;
  /**
   * Files sent straight to the queue (upload, job record, SendMessage) even when `api` is set: a burst
   * arriving as a campaign's would, faster than the consumer's cap can take it.
   */
  readonly direct?: (file: string) => boolean;
  /** In-flight executions right now (local target only). */
  readonly inFlightExecutions?: () => number;
  /** Give up on jobs not finished after this long. @default 600000 */
  readonly timeoutMs?: number;
  readonly sampleIntervalMs?: number;
  readonly onProgress?: (p: Progress) => void;
}

export interface Progress {
  readonly submitted: number;
  readonly total: number;
  readonly completed: number;
  readonly failed: number;
  readonly deadLettered: number;
  readonly inFlight: number;
  readonly elapsedMs: number;
}

export interface RunJobsResult {
  readonly jobs: JobResult[];
  readonly samples: TimelineSample[];
  readonly elapsedMs: number;
  readonly deadLettered: number;
  readonly timedOut: boolean;
}

const isFinal = (r: JobRecord | undefined): boolean => r?.status === 'completed' || r?.status === 'failed';

export async function runJobs(options: RunJobsOptions): Promise<RunJobsResult> {
  const { clients, outputs, api } = options;
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 600_000;
  const queueUrl = outputs[STACK_OUTPUTS.jobQueueUrl];
  const dlqUrl = outputs[STACK_OUTPUTS.deadLetterQueueUrl];
  const slots: Array<{ file: string; jobId: string | null; record?: JobRecord; rejected?: { class: string; reason: string }; deadLettered?: boolean }> = options.files.map((f) => ({ file: f, jobId: null }));
  let submitted = 0;
  const samples: TimelineSample[] = [];
  let deadLettered = 0;
  let inFlightMessages = 0;

  const counts = () => ({
    completed: slots.filter((s) => s.record?.status === 'completed').length,
    failed: slots.filter((s) => s.record?.status === 'failed' || s.rejected !== undefined || (s.deadLettered && !isFinal(s.record))).length,
  });
  const progress = (): void => {
    const c = counts();
    options.onProgress?.({ submitted, total: slots.length, ...c, deadLettered, inFlight: options.inFlightExecutions?.() ?? inFlightMessages, elapsedMs: Date.now() - started });
  };

  const sample = async (): Promise<void> => {
    try {
      const q = queueUrl ? await queueDepth(clients, queueUrl) : { visible: 0, notVisible: 0 };
      const d = dlqUrl ? await queueDepth(clients, dlqUrl) : { visible: 0, notVisible: 0 };
      inFlightMessages = q.notVisible;
      deadLettered = d.visible + d.notVisible;
      const c = counts();
      const execs = options.inFlightExecutions?.();
      samples.push({ t: Date.now() - started, visible: q.visible, inFlightMessages: q.notVisible, ...(execs !== undefined ? { inFlightExecutions: execs } : {}), deadLettered, ...c });
    } catch {
      // sampling is best effort
    }
  };
  const sampler = setInterval(() => void sample().then(progress), options.sampleIntervalMs ?? 500);

  try {
    // Submit: a few at a time, like a polite client. A file that cannot be submitted is a result too.
    const limit = pLimit(8);
    let submitting = true;
    // Jobs are followed while the rest are still being submitted, so the report shows completions as they happen.
    const submission = Promise.all(
      slots.map((slot) =>
        limit(async () => {
          try {
            const st = await stat(slot.file);
            if (!st.isFile()) throw new Error('not a regular file');
            const bytes = await readFile(slot.file);
            const name = basename(slot.file);
            if (api && !options.direct?.(slot.file)) slot.jobId = (await api.submit(bytes, contentTypeFor(name))).jobId;
            else slot.jobId = (await submitDirect({ clients, outputs, fileName: name, bytes })).jobId;
          } catch (err) {
            slot.rejected = err instanceof ApiRequestError ? { class: err.code, reason: err.message } : { class: 'SubmitFailed', reason: (err as Error).message };
          }
          submitted++;
          progress();
        }),
      ),
    ).finally(() => (submitting = false));

    // Follow the jobs until all are final.
    let lastDlqScan = 0;
    let timedOut = false;
    for (;;) {
      const open = slots.filter((s) => s.jobId !== null && !isFinal(s.record) && !s.deadLettered);
      if (open.length === 0 && !submitting) break;
      if (Date.now() - started > timeoutMs) {
        timedOut = true;
        break;
      }
      if (open.length > 25) {
        // Many jobs: one paginated Scan of this deployment's jobs table beats a GetItem per job.
        const byId = await scanJobs(clients, outputs[STACK_OUTPUTS.jobsTable]!);
        for (const s of open) s.record = byId.get(s.jobId!) ?? s.record;
      } else {
        const read = pLimit(16);
        await Promise.all(open.map((s) => read(async () => (s.record = await getJob(clients, outputs, s.jobId!)))));
      }
      // A message the redrive policy moved to the DLQ (e.g. an environment that crashed every time)
      // never gets a final record: find it there.
      if (dlqUrl && Date.now() - lastDlqScan > 2000 && open.some((s) => !isFinal(s.record))) {
        lastDlqScan = Date.now();
        for (const id of await deadLetteredJobIds(clients, dlqUrl)) {
          const s = slots.find((x) => x.jobId === id);
          if (s && !isFinal(s.record)) s.deadLettered = true;
        }
      }
      progress();
      await new Promise((r) => setTimeout(r, 250));
    }
    await submission;
    await sample();
    progress();

    const jobs: JobResult[] = slots.map((s) => {
      if (s.rejected) return { file: s.file, jobId: s.jobId, status: 'failed', renditions: [], error: s.rejected };
      const r = s.record;
      if (r?.status === 'completed') {
        return { file: s.file, jobId: s.jobId, status: 'completed', renditions: (r.renditions ?? []).map(({ name, key, width, height, bytes, format }) => ({ name, key, width, height, bytes, format })) };
      }
      if (r?.status === 'failed') return { file: s.file, jobId: s.jobId, status: 'failed', renditions: [], ...(r.error ? { error: { class: r.error.class, reason: r.error.reason } } : {}) };
      if (s.deadLettered) return { file: s.file, jobId: s.jobId, status: 'dead-lettered', renditions: [], error: { class: 'DeadLettered', reason: 'moved to the dead-letter queue by the redrive policy before the job was finished' } };
      return { file: s.file, jobId: s.jobId, status: 'pending', renditions: [] };
    });
    return { jobs, samples, elapsedMs: Date.now() - started, deadLettered, timedOut };
  } finally {
    clearInterval(sampler);
  }
}

async function scanJobs(clients: PipelineClients, table: string): Promise<Map<string, JobRecord>> {
  const out = new Map<string, JobRecord>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.ddb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
    for (const item of page.Items ?? []) out.set(String(item.jobId), item as JobRecord);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Job ids in the DLQ (each message is received with a 1 s visibility, so it is back at once). */
async function deadLetteredJobIds(clients: PipelineClients, dlqUrl: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const r = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 1, MessageAttributeNames: ['All'] }));
    const msgs = r.Messages ?? [];
    if (msgs.length === 0) break;
    for (const m of msgs) {
      const attr = m.MessageAttributes?.JobId?.StringValue;
      let id = attr;
      if (!id) {
        try {
          id = (JSON.parse(m.Body ?? '{}') as { jobId?: string }).jobId;
        } catch {
          // not a job message
        }
      }
      if (id) ids.add(id);
    }
  }
  return ids;
}

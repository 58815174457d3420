/** What `floodgate-local up --json` prints: one JSON object (no imports here: the CommonJS testing entry uses it too). */
export interface LocalStackSummary {
  /** The one endpoint: the value for AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly stack: string;
  /** Where the resources are: the embedded emulators, or the external endpoint (`upstream`). */
  readonly target: 'emulators' | 'external';
  readonly upstream?: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly outputsFile?: string;
  /** The data directory (`--data-dir`), when the stack keeps its state. */
  readonly dataDir?: string;
  /** With a data directory: true when the deployment was found there (a restart), false on a first start. */
  readonly restored?: boolean;
  /** The local HTTP API front, when the stack has an HTTP API. */
  readonly apiUrl?: string;
  readonly functions: ReadonlyArray<{ logicalId: string; functionName: string; handler: string; timeoutSeconds: number; memoryMb: number; reservedConcurrency?: number }>;
  readonly mappings: ReadonlyArray<{ logicalId: string; functionName: string; queueUrl: string; queueArn: string; batchSize: number; maximumBatchingWindowSeconds: number; maximumConcurrency?: number; enabled: boolean }>;
  /**
   * Service-to-service deliveries that did not happen (the same view as `LocalStack.deliveryFailures()`):
   * those a queue policy, topic policy or Lambda permission refused, and per topic / rule the counts named
   * after AWS's metrics (SNS NumberOfNotificationsFailed, EventBridge FailedInvocations).
   */
  readonly deliveryFailures?: {
    readonly deniedDeliveries: number;
    readonly denied: ReadonlyArray<{ time: string; service: string; action: string; resource: string; sourceArn: string; sourceAccount?: string; message: string }>;
    readonly sns: ReadonlyArray<{ topicArn: string; NumberOfNotificationsFailed: number; NumberOfNotificationsRedrivenToDlq: number }>;
    readonly events: ReadonlyArray<{ ruleArn: string; FailedInvocations: number; DeadLetterInvocations: number }>;
  };
  /** PID of the process serving the stack (the CLI). */
  readonly pid: number;
}


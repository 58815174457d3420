/** One JSON object per line on stdout (CloudWatch Logs Insights reads the fields). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(service: string, minLevel: LogLevel = 'info', write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Logger {
  return {
    log(level, message, fields = {}) {
      if (ORDER[level] < ORDER[minLevel]) return;
      write(JSON.stringify({ level, timestamp: new Date().toISOString(), service, message, ...fields }));
    },
  };
}

export const silentLogger: Logger = { log() {} };

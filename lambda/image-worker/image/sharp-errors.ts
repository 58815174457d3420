/**
 * Maps errors thrown by sharp/libvips to the error taxonomy. Pure (message matching), so it is tested on
 * the messages libvips actually produces. Anything sharp throws while decoding an input that passed the
 * format and header checks means the file is undecodable: CorruptImage.
 */
import { FloodgateError, PermanentError } from '@floodgate/runtime';
import { describeFormat, type DetectedFormat } from './formats';

const firstLine = (message: string): string => message.split('\n').find((l) => l.trim() !== '')?.trim() ?? message;

export function classifySharpError(err: unknown, format: DetectedFormat, timeoutSeconds: number): FloodgateError {
  if (err instanceof FloodgateError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const name = describeFormat(format);
  if (/timeout:?\s*\d+% complete/i.test(message) || /^timeout/i.test(message)) {
    return new PermanentError('ImageTimeout', `${name} image took longer than its ${timeoutSeconds} s budget (${firstLine(message)})`, { cause: err });
  }
  if (/exceeds pixel limit/i.test(message)) {
    return new PermanentError('TooLarge', `${name} image exceeds the pixel limit (${firstLine(message)})`, { cause: err });
  }
  if (/exceeds channel limit|too many channels/i.test(message)) {
    return new PermanentError('TooLarge', `${name} image exceeds the channel limit (${firstLine(message)})`, { cause: err });
  }
  if (/unsupported image format|unsupported codec|unsupported feature/i.test(message)) {
    return new PermanentError('UnsupportedFormat', `${name} variant cannot be decoded: ${firstLine(message)}`, { cause: err });
  }
  if (/premature end|truncated|unexpected end|end of (file|input|stream)|read error|out of order/i.test(message)) {
    return new PermanentError('CorruptImage', `${name} file is truncated (${firstLine(message)})`, { cause: err });
  }
  return new PermanentError('CorruptImage', `${name} file cannot be decoded (${firstLine(message)})`, { cause: err });
}

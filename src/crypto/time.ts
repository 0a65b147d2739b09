/** RFC 3339 UTC with millisecond precision, the protocol's one time format. */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString();
}

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Milliseconds since the epoch, or undefined when the text is not a real protocol timestamp. */
export function parseTimestamp(text: string): number | undefined {
  if (!RFC3339_MS.test(text)) return undefined;
  const ms = Date.parse(text);
  // Date.parse rolls "02-30" over to March; a round trip catches impossible dates.
  return Number.isNaN(ms) || new Date(ms).toISOString() !== text ? undefined : ms;
}

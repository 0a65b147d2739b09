import { int, parseDuration } from './parse.js';
import { setting } from './read.js';

/** Event streams and presence: heartbeats, replay, buffers, and the limits on streams per user. */
export const streamSettings = {
  presenceGraceMs: setting('PRESENCE_GRACE_MS', 30_000, int(0, 86_400_000), 'milliseconds 0-86400000'),
  heartbeatMs: setting('SECURECHAT_HEARTBEAT_MS', 15_000, int(10, 15_000), 'milliseconds 10-15000'),
  eventRetentionSeconds: setting(
    'SECURECHAT_EVENT_RETENTION',
    7 * 86400,
    parseDuration,
    'a duration such as 7d or 3600',
  ),
  streamBufferBytes: setting(
    'SECURECHAT_STREAM_BUFFER',
    1024 * 1024,
    // at least one largest event (a 64 KiB message is ~90 KB on the wire) must fit
    int(131_072, 1 << 30),
    'bytes 131072-1073741824',
  ),
  maxStreamsPerUser: setting('SECURECHAT_MAX_STREAMS', 5, int(1, 1_000_000), 'streams per user'),
  streamOpensPerMinute: setting(
    'SECURECHAT_STREAM_OPEN_LIMIT',
    60,
    int(1, 1_000_000),
    'stream opens per minute per user',
  ),
  streamDrainMs: setting('SECURECHAT_STREAM_DRAIN_MS', 30_000, int(100, 600_000), 'milliseconds 100-600000'),
};

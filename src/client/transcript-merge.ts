/** How one process's transcript checks are written over what another process (a CLI, a tab) saved. */
import type { ChatTranscript } from './transcript-types.js';

/**
 * What is stored, with this process's changed chats written over it: within a chat, warnings
 * another process saved stay (unless this one resolved them), and the higher `last` and counters.
 */
export function mergeChats(
  stored: Record<string, ChatTranscript> | undefined,
  mine: Record<string, ChatTranscript>,
  resolved: Map<string, Set<string>>,
): Record<string, ChatTranscript> {
  const out = { ...stored };
  for (const [id, chat] of Object.entries(mine)) {
    const had = stored?.[id];
    if (!had || chat.first === null) {
      out[id] =
        chat.first === null && had ? { ...chat, warnings: { ...had.warnings, ...chat.warnings } } : chat;
      continue;
    }
    const gone = resolved.get(id) ?? new Set<string>();
    const warnings = Object.fromEntries(Object.entries(had.warnings ?? {}).filter(([k]) => !gone.has(k)));
    const devices = { ...had.devices };
    for (const [k, d] of Object.entries(chat.devices))
      if (!devices[k] || devices[k].high <= d.high) devices[k] = d;
    out[id] = {
      ...chat,
      last: Math.max(had.last, chat.last),
      hashes: { ...had.hashes, ...chat.hashes },
      devices,
      warnings: { ...warnings, ...chat.warnings },
    };
  }
  return out;
}

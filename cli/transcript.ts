import {
  escapeControls,
  type MessageData,
  shortId,
  type TranscriptWarning,
  type WarningChange,
} from '../src/client/index.js';
import type { Context } from './context.js';

/**
 * Transcript warnings (protocol.md, "Transcript integrity") as the terminal shows them: a line of
 * its own that starts like no message does (`!! transcript:`), in the chat it concerns; resolved
 * ones with `* transcript: resolved:`. In --json each is an object of its own: `{"warning": …}`.
 */
export function warningLine(w: TranscriptWarning, where: string, status: WarningChange['status'] = 'open') {
  const text = escapeControls(w.text);
  return status === 'resolved' ? `* ${where}transcript: resolved: ${text}` : `!! ${where}transcript: ${text}`;
}

export const warningJson = (w: TranscriptWarning, status: WarningChange['status'] = 'open') => ({
  warning: {
    status,
    chatId: w.chatId,
    kind: w.kind,
    text: w.text,
    seq: w.seq ?? null,
    sender: w.sender ?? null,
  },
});

/** Says each change of the chat's warnings; `where` names the chat when it is not the one shown. */
export function reportChanges(ctx: Context, changes: WarningChange[], where: string): void {
  for (const { status, warning } of changes) {
    if (ctx.json) ctx.result(warningJson(warning, status));
    else if (status === 'resolved') ctx.say(warningLine(warning, where, status));
    else ctx.warn(warningLine(warning, where, status));
  }
}

/** The chat's open warnings, said again (on start: they stay until resolved). */
export function reportOpen(ctx: Context, chatId: string, where = ''): void {
  reportChanges(
    ctx,
    ctx.session.transcript.warnings(chatId).map((warning) => ({ status: 'open', warning })),
    where,
  );
}

/** Where a line of another chat than the one shown says its chat. */
export const chatTag = (ctx: Context, chatId: string) =>
  chatId === ctx.currentChat ? '' : `[${shortId(chatId)}] `;

export type { MessageData };

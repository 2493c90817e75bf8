/** The Log cores receive when they run inside an action: the runner's log, redacted. */
import * as core from '@actions/core';
import type { Log } from '../log.js';
import { maskSecret, redact } from './redaction.js';

export const actionLog: Log = {
  info: (message) => core.info(redact(message)),
  warn: (message) => core.warning(redact(message)),
  debug: (message) => core.debug(redact(message)),
  group: (title, fn) => core.group(redact(title), fn),
  mask: maskSecret,
};

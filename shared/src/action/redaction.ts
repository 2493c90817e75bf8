/**
 * The action's one redactor. Every value read as a secret is registered here and with the runner
 * (`::add-mask::`) at the moment it is read; outputs, the summary and annotations pass through it,
 * because the runner masks log lines only and not the forms a secret takes inside other values.
 */
import * as core from '@actions/core';
import { Redactor } from '../redact/redactor.js';

export const redactor = new Redactor();

export function maskSecret(value: string): void {
  for (const form of redactor.add(value)) core.setSecret(form);
}

export function redact(text: string): string {
  return redactor.redact(text);
}

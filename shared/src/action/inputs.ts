/** The action's inputs: the runner's INPUT_* variables, secrets masked with the runner and our redactor. */
import * as core from '@actions/core';
import { Inputs } from '../config/inputs.js';
import { maskSecret } from './redaction.js';

export const actionInputs = new Inputs({
  raw: (name) => core.getInput(name),
  mask: maskSecret,
});

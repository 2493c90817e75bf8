/**
 * ncc's ESM bundles keep CommonJS code that reads __dirname/__filename (ssh2 does, at load time),
 * which ESM does not define: "ReferenceError: __dirname is not defined". This module is imported
 * first by entry points that bundle ssh2, and defines both from the bundle's own location.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const globals = globalThis as { __filename?: string; __dirname?: string };
globals.__filename ??= fileURLToPath(import.meta.url);
globals.__dirname ??= dirname(globals.__filename);

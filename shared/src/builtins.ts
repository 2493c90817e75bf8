/**
 * Node built-ins that cost start-up time (https and tls alone take ~20 ms to load on Node 24),
 * loaded at their first use instead of when the bundle starts: an action that stops on a bad
 * input, or never opens a socket of that kind, never pays for them. `npm run bench` measures it.
 */
import { createRequire } from 'node:module';
import type * as ChildProcess from 'node:child_process';
import type * as Crypto from 'node:crypto';
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import type * as Net from 'node:net';
import type * as Tls from 'node:tls';
import type * as Zlib from 'node:zlib';

const load = createRequire(import.meta.url);

export const builtin = {
  get childProcess(): typeof ChildProcess {
    return load('node:child_process') as typeof ChildProcess;
  },
  get crypto(): typeof Crypto {
    return load('node:crypto') as typeof Crypto;
  },
  get http(): typeof Http {
    return load('node:http') as typeof Http;
  },
  get https(): typeof Https {
    return load('node:https') as typeof Https;
  },
  get net(): typeof Net {
    return load('node:net') as typeof Net;
  },
  get tls(): typeof Tls {
    return load('node:tls') as typeof Tls;
  },
  get zlib(): typeof Zlib {
    return load('node:zlib') as typeof Zlib;
  },
};

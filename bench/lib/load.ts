/**
 * Constant load against a URL while a procedure runs: 50 keep-alive connections (autocannon), a
 * bounded rate so the 2-core machine can still run the procedure, stopped by itself. Every
 * request that does not end in a 2xx counts as failed: non-2xx answers, resets, refusals, timeouts.
 */
import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  failed: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface Load {
  stop(): Promise<LoadResult>;
}

export function startLoad(
  url: string,
  options: { connections?: number; rate?: number; maxSeconds?: number } = {},
): Load {
  let finished: (result: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve) => (finished = resolve));
  const instance = autocannon(
    {
      url,
      connections: options.connections ?? 50,
      overallRate: options.rate ?? 1000,
      duration: options.maxSeconds ?? 120,
      timeout: 5,
      pipelining: 1,
    },
    (error, result) => {
      if (error) throw error;
      finished(result);
    },
  );
  return {
    async stop() {
      instance.stop();
      const result = await done;
      const ok = Object.entries(result.statusCodeStats ?? {})
        .filter(([code]) => code.startsWith('2'))
        .reduce((sum, [, stat]) => sum + Number((stat as { count: number }).count), 0);
      return {
        requests: ok + result.non2xx + result.errors,
        failed: result.non2xx + result.errors,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
      };
    },
  };
}

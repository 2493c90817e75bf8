/**
 * A second, independent view of downtime: one request every 50 ms on a fresh connection, bounded
 * by a 1 s timeout. The outage is the span from the first failed probe to the last one. Unlike
 * failed-request counts under keep-alive load, it does not grow with how fast clients reconnect.
 */
import http from 'node:http';

export interface Outage {
  probes: number;
  failedProbes: number;
  outageMs: number;
}

function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export function startOutageProbe(url: string, everyMs = 50): { stop(): Promise<Outage> } {
  let running = true;
  let probes = 0;
  let failed = 0;
  let firstFail = 0;
  let lastFail = 0;
  const loop = (async () => {
    while (running) {
      const at = performance.now();
      const ok = await probe(url);
      probes++;
      if (!ok) {
        failed++;
        firstFail ||= at;
        lastFail = at;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - at))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return {
        probes,
        failedProbes: failed,
        outageMs: failed === 0 ? 0 : Math.round(lastFail - firstFail + everyMs),
      };
    },
  };
}

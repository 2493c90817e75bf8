/** `flush-cache`: Redis FLUSHDB of one database, after counting its keys. */
import { ConfigurationError } from '../../errors.js';
import { parseRedisUrl } from '../../diagnose/inputs.js';
import { flushCache } from '../flush-cache.js';
import type { Operation } from '../operation.js';

export const flushCacheOperation: Operation = {
  name: 'flush-cache',
  destructive: true,
  mutates: true,
  summary: 'Redis FLUSHDB of one database, after counting its keys',
  async run(inputs, _context, deps, { name, dryRun }) {
    const redisRaw = inputs.secret('redis-url');
    if (!redisRaw) throw new ConfigurationError('redis-url', 'is required for flush-cache.');
    const url = parseRedisUrl(inputs, 'redis-url', redisRaw);
    const db = inputs.integer('redis-db', Number(url.pathname.replace(/^\//, '') || 0), {
      min: 0,
      max: 1000,
    });
    const result = await flushCache(url, db, dryRun, 10_000);
    const said = `${result.where}: ${result.keysBefore} key(s) before${result.flushed ? `, ${result.keysAfter} after` : ''}`;
    deps.log.info(`${dryRun ? '[dry-run] would FLUSHDB' : 'FLUSHDB'} ${said}`);
    return {
      mode: name,
      outputs: { operation: name, result: dryRun ? 'planned' : 'done', report: JSON.stringify(result) },
      summary: `## ops flush-cache\n\n${dryRun ? 'Dry run: would flush' : 'Flushed'} ${said}.`,
    };
  },
};

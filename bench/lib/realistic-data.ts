/**
 * A database with the entropy of a real one — names, emails, phone numbers, uuids, amounts, merchant
 * names, free text from a vocabulary, IP addresses, user agents, timestamps and JSON documents, with
 * primary keys, foreign keys and indexes — not pgbench's filler, which compresses 27× and flatters
 * every compressor. Grown in steps to a target size, so one run can measure at 100 MB and at 1 GB.
 */
import pg from 'pg';

const WORDS = `account balance transfer payment pending settled refund coffee grocery rent salary invoice
  subscription monthly weekly card debit credit fee interest savings checking merchant online store
  fuel travel hotel flight dinner lunch breakfast market pharmacy insurance utility electric water
  internet phone mobile streaming music books school tuition medical dental gym charity donation gift
  deposit withdrawal atm cash bonus tax return loan mortgage auto repair parking toll taxi ride share`
  .split(/\s+/)
  .filter(Boolean);
const FIRST =
  'james mary john patricia robert jennifer michael linda william elizabeth david barbara richard susan joseph jessica thomas sarah charles karen christopher nancy daniel lisa matthew betty anthony margaret mark sandra donald ashley steven kimberly paul emily andrew donna joshua michelle kenneth carol kevin amanda brian melissa george deborah timothy stephanie ronald rebecca edward sharon jason laura jeffrey cynthia ryan kathleen'.split(
    ' ',
  );
const LAST =
  'smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter roberts'.split(
    ' ',
  );
const DOMAINS =
  'gmail.com yahoo.com outlook.com icloud.com hotmail.com proton.me aol.com bunty.example fastmail.com mail.com'.split(
    ' ',
  );
const MERCHANTS =
  'Starbucks Walmart Target Amazon Costco Shell Chevron Uber Lyft Netflix Spotify Apple Google Kroger Safeway Walgreens CVS Delta United Marriott Hilton Airbnb DoorDash Grubhub Chipotle McDonalds Subway Venmo PayPal Stripe Plaid'.split(
    ' ',
  );
const AGENTS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Bunty/3.4.1 (iOS 17.2; iPhone15,2)',
  'Bunty/3.4.0 (Android 14; SM-S918B)',
];

const arr = (items: string[]) => `ARRAY[${items.map((w) => `'${w.replace(/'/g, "''")}'`).join(',')}]`;
const pick = (items: string[]) => `(${arr(items)})[1 + floor(random() * ${items.length})::int]`;
const sentence = (min: number, spread: number) =>
  `(SELECT string_agg(${pick(WORDS)}, ' ') FROM generate_series(1, ${min} + floor(random() * ${spread})::int + 0 * g))`;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL UNIQUE,
  first_name text NOT NULL, last_name text NOT NULL, phone text,
  created_at timestamptz NOT NULL, profile jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS transactions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id), amount numeric(12,2) NOT NULL, currency char(3) NOT NULL,
  merchant text NOT NULL, description text NOT NULL, status text NOT NULL,
  created_at timestamptz NOT NULL, metadata jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS transactions_user_created ON transactions (user_id, created_at);
CREATE TABLE IF NOT EXISTS audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, actor uuid, action text NOT NULL, ip inet,
  user_agent text, payload jsonb, at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);`;

function usersBatch(n: number): string {
  return `INSERT INTO users (email, first_name, last_name, phone, created_at, profile)
  SELECT f || '.' || l || floor(random() * 100000)::int || '.' || g || '@' || ${pick(DOMAINS)}, f, l,
         '+1' || (2000000000 + floor(random() * 7999999999))::bigint,
         timestamptz '2020-01-01' + random() * interval '1800 days',
         jsonb_build_object('locale', (ARRAY['en-US','en-GB','es-US','fr-CA'])[1 + floor(random()*4)::int],
           'kyc', random() > 0.1, 'limits', jsonb_build_object('daily', floor(random()*5000)::int),
           'bio', ${sentence(3, 12)})
  FROM (SELECT g, ${pick(FIRST)} AS f, ${pick(LAST)} AS l FROM generate_series(1, ${n}) g) s`;
}

function transactionsBatch(n: number, seed: number, users: number): string {
  return `INSERT INTO transactions (user_id, amount, currency, merchant, description, status, created_at, metadata)
  SELECT u.id, round((random() * random() * 2000)::numeric, 2), (ARRAY['USD','USD','USD','EUR','GBP'])[1 + floor(random()*5)::int],
         ${pick(MERCHANTS)} || ' #' || floor(random() * 9000 + 1000)::int, ${sentence(4, 14)},
         (ARRAY['settled','settled','settled','pending','refunded'])[1 + floor(random()*5)::int],
         timestamptz '2024-01-01' + random() * interval '700 days',
         jsonb_build_object('plaid_id', md5(random()::text), 'mcc', floor(random()*9000+1000)::int,
           'lat', round((random()*180-90)::numeric, 5), 'lng', round((random()*360-180)::numeric, 5))
  FROM generate_series(1, ${n}) g JOIN user_ids u ON u.n = 1 + abs(hashint8(g + ${seed})) % ${users}`;
}

function auditBatch(n: number): string {
  return `INSERT INTO audit_log (actor, action, ip, user_agent, payload, at)
  SELECT gen_random_uuid(), (ARRAY['login','logout','transfer.create','card.freeze','profile.update','token.refresh'])[1 + floor(random()*6)::int],
         ('10.' || floor(random()*255)::int || '.' || floor(random()*255)::int || '.' || floor(random()*255)::int)::inet,
         ${pick(AGENTS)}, jsonb_build_object('request_id', gen_random_uuid(), 'ms', floor(random()*900)::int, 'note', ${sentence(2, 8)}),
         timestamptz '2024-01-01' + random() * interval '700 days'
  FROM generate_series(1, ${n}) g`;
}

export async function databaseBytes(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number(
      (await c.query<{ s: string }>('SELECT pg_database_size(current_database()) AS s')).rows[0]?.s,
    );
  } finally {
    await c.end();
  }
}

/** Grows the database at `url` until it is at least `targetBytes`; the superuser adds the extensions. */
export async function growRealisticData(
  url: string,
  superuserUrl: string,
  targetBytes: number,
  say: (s: string) => void,
): Promise<void> {
  const admin = new pg.Client({ connectionString: superuserUrl });
  await admin.connect();
  await admin.query('CREATE EXTENSION IF NOT EXISTS pgcrypto');
  await admin.end();
  const clients = await Promise.all(
    [0, 1].map(async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  try {
    await clients[0]?.query(SCHEMA);
    if (Number((await clients[0]?.query<{ n: string }>('SELECT count(*) AS n FROM users'))?.rows[0]?.n) === 0)
      await clients[0]?.query(usersBatch(50_000));
    // A numbered copy of the user ids, for random foreign keys by index lookup; temporary, so not dumped.
    await clients[0]?.query(
      'CREATE TEMP TABLE user_ids AS SELECT row_number() OVER () AS n, id FROM users; ALTER TABLE user_ids ADD PRIMARY KEY (n)',
    );
    const users = Number(
      (await clients[0]?.query<{ n: string }>('SELECT count(*) AS n FROM user_ids'))?.rows[0]?.n,
    );
    for (
      let size = await databaseBytes(url), seed = 0;
      size < targetBytes;
      size = await databaseBytes(url), seed += 1_000_000
    ) {
      say(`  … ${(size / 1_048_576).toFixed(0)} MB`);
      await Promise.all([
        clients[0]?.query(transactionsBatch(200_000, seed, users)),
        clients[1]?.query(`${auditBatch(60_000)}; ${usersBatch(5_000)}`),
      ]);
    }
    await clients[0]?.query('VACUUM ANALYZE');
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

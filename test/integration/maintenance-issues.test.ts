/**
 * maintenance.yml's issue tracking — the github-script step's own script, run as github-script runs
 * it (an Octokit with paginate and the REST methods, `context.repo`, `core`, values from env) against
 * the local GitHub stand-in, which checks every request and answer against GitHub's OpenAPI
 * description: one issue per failing job, found again by its title, closed when the job passes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getOctokit } from '@actions/github';
import { FakeGithub, type FakeIssue } from '../../sandbox/fake-github.js';
import { workflowFiles, type Job } from '../../scripts/workflows.js';

const maintenance = workflowFiles().find((f) => f.path === '.github/workflows/maintenance.yml');
const step = (maintenance?.doc.jobs.issues as Job).steps?.[0];
const script = String(step?.with?.script ?? '');

let fake: FakeGithub;
let issues: FakeIssue[];
beforeAll(async () => {
  fake = await FakeGithub.start();
  issues = [];
  fake.issues.set('repos/bunty/api', issues);
});
afterAll(() => fake.stop());

type Result = 'success' | 'failure' | 'skipped' | 'cancelled';

async function track(results: Record<string, Result>): Promise<string[]> {
  const logged: string[] = [];
  const github = getOctokit(fake.token, { baseUrl: fake.url });
  const core = { info: (m: string) => logged.push(m), warning: (m: string) => logged.push(`warning: ${m}`) };
  const context = { repo: { owner: 'bunty', repo: 'api' } };
  const saved = { ...process.env };
  Object.assign(process.env, {
    RESULTS: JSON.stringify(
      Object.fromEntries(Object.entries(results).map(([job, result]) => [job, { result, outputs: {} }])),
    ),
    ENVIRONMENT: 'production',
    RUN_URL: 'https://github.com/bunty/api/actions/runs/42',
  });
  try {
    // github-script wraps the script in an async function of these names.
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<unknown>;
    await new AsyncFunction('github', 'context', 'core', script)(github, context, core);
  } finally {
    process.env = saved;
  }
  return logged;
}

describe("maintenance.yml's issue tracking", () => {
  it('the step passes its values through env, never ${{ }} in the script', () => {
    expect(script).toContain('process.env.RESULTS');
    expect(script).not.toContain('${{');
    expect(step?.env?.RESULTS).toBe('${{ toJSON(needs) }}');
  });

  it('opens one issue for a failing job, comments while it keeps failing, closes it when it passes', async () => {
    issues.push(
      {
        number: 1,
        title: 'maintenance: daily failing in production',
        body: '',
        state: 'open',
        stateReason: null,
        comments: [],
        pullRequest: true,
      },
      {
        number: 2,
        title: 'maintenance: daily failing in staging',
        body: '',
        state: 'open',
        stateReason: null,
        comments: [],
      },
    );
    const first = await track({
      daily: 'failure',
      weekly: 'skipped',
      audit: 'skipped',
      monthly: 'skipped',
      quarterly: 'skipped',
    });
    expect(first).toEqual(['warning: maintenance: daily failing in production: issue opened']);
    const opened = issues.find((i) => i.number === 3) as FakeIssue;
    expect(opened).toMatchObject({ title: 'maintenance: daily failing in production', state: 'open' });
    expect(opened.body).toContain('https://github.com/bunty/api/actions/runs/42');

    const again = await track({
      daily: 'failure',
      weekly: 'failure',
      audit: 'success',
      monthly: 'skipped',
      quarterly: 'cancelled',
    });
    expect(again).toEqual([
      'warning: maintenance: daily failing in production: commented on #3',
      'warning: maintenance: weekly failing in production: issue opened',
    ]);
    expect(issues).toHaveLength(4);
    expect(opened.comments).toHaveLength(1);

    const passed = await track({
      daily: 'success',
      weekly: 'skipped',
      audit: 'skipped',
      monthly: 'skipped',
      quarterly: 'skipped',
    });
    expect(passed).toEqual(['maintenance: daily failing in production: closed #3']);
    expect(opened).toMatchObject({ state: 'closed', stateReason: 'completed' });
    expect(opened.comments[1]).toMatch(/^Passed again: /);
    // The pull request with the same title and the staging issue were never touched.
    expect(issues.slice(0, 2).map((i) => [i.state, i.comments.length])).toEqual([
      ['open', 0],
      ['open', 0],
    ]);
    expect(issues.find((i) => i.number === 4)?.state).toBe('open');
    expect(fake.violations).toEqual([]);
    expect(fake.requests.every((r) => r.status < 400)).toBe(true);
  });
});

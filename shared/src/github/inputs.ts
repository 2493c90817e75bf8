/** The GitHub inputs every procedure that talks to GitHub reads one way: the repository and the API root. */
import type { Inputs } from '../config/inputs.js';
import { ConfigurationError } from '../errors.js';

/** `github-repository`, else GITHUB_REPOSITORY: `owner/repo`. */
export function readGithubRepository(
  inputs: Inputs,
  env: NodeJS.ProcessEnv,
): { owner: string; repo: string } {
  const repository = inputs.string('github-repository') ?? env.GITHUB_REPOSITORY ?? '';
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository);
  if (!match)
    throw new ConfigurationError(
      'github-repository',
      `${JSON.stringify(repository)} is not owner/repo (outside GitHub Actions it has no default).`,
    );
  const [, owner = '', repo = ''] = match;
  return { owner, repo };
}

/** `github-api-url`, else GITHUB_API_URL, else api.github.com (GitHub Enterprise Server: `https://HOST/api/v3`). */
export function readGithubApiUrl(inputs: Inputs, env: NodeJS.ProcessEnv): string {
  const apiUrl = inputs.string('github-api-url') ?? env.GITHUB_API_URL ?? 'https://api.github.com';
  try {
    const url = new URL(apiUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new ConfigurationError('github-api-url', `${JSON.stringify(apiUrl)} is not an http(s) URL.`);
  }
  return apiUrl;
}

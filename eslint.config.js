import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Cores must not know the runner, and nothing in a bundle loads @actions/core: its entry module
    // imports its OIDC HTTP stack (~120 ms of start-up on Node 24). shared/src/action speaks the
    // runner's protocol (workflow-commands.ts); test/unit/workflow-commands.test.ts holds it to core's.
    files: ['shared/src/**/*.ts', 'cli/**/*.ts', 'sandbox/**/*.ts', 'action-*/src/**/*.ts'],
    ignores: ['shared/src/action/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@actions/core',
              message:
                'Cores take a Log; entry points use shared/src/action (the runner protocol without @actions/core start-up cost).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['sandbox/app/**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        setInterval: 'readonly',
        clearTimeout: 'readonly',
        __dirname: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

// typescript-eslint's recommended rules with type information, over the whole tree. `npm run lint` runs it
// with --max-warnings 0. A rule turned off below says why in one line.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'runs/', 'out/', 'coverage/', '.docs-check-*/', 'src/eval/classifiers/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', '*.cjs', 'workers/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', module: 'writable', require: 'readonly', __dirname: 'readonly' },
    },
  },
  {
    rules: {
      // Engine, Executor and tfjs IOHandler methods are async by contract; synchronous implementations keep the contract.
      '@typescript-eslint/require-await': 'off',
      // Shapes are printed as "28,28,1" in messages on purpose.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true }],
    },
  },
  // Plain JavaScript (the configs, the workers' .mjs entries that register tsx) has no types to check.
  { files: ['**/*.js', '**/*.cjs', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);

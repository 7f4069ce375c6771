// ESLint: typescript-eslint recommended, the layering of DESIGN.md §6, and no ambient time in
// hub and agent code (STYLE.md §2: time comes from a Clock).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

// Layers of hub/src, lowest first. A layer may import only from layers before it.
const LAYERS = [
  ['contract'],
  ['base'],
  ['config', 'transport', 'ring', 'store', 'metrics'],
  ['membership'],
  ['routing', 'observer'],
  ['mqtt'],
  ['admin'],
  ['hub'],
  ['cli', 'main'],
]

function forbiddenAbove(index) {
  return LAYERS.slice(index + 1).flat().flatMap((name) => [`**/${name}/*`, `**/${name}.js`])
}

const layerRules = LAYERS.flatMap((names, index) => forbiddenAbove(index).length === 0 ? [] : names.map((name) => ({
  files: [`hub/src/${name}/**/*.ts`, `hub/src/${name}.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{ group: forbiddenAbove(index), message: `hub/src/${name} sits below this layer (DESIGN.md §6)` }],
    }],
  },
})))

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerRules,
  {
    // Other parts see the hub only through its contract.
    files: ['device-agent/**/*.ts', 'firmware-sim/**/*.ts', 'ui/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/hub/src/*', '!**/hub/src/contract', '**/hub/src/*/**', '!**/hub/src/contract/**'], message: 'import only hub/src/contract (DESIGN.md §6)' }],
      }],
    },
  },
  {
    // The renderer is a web page (DESIGN.md §1, STYLE.md §11): browser globals, no Node, no
    // electron; like the rest of ui it sees the hub only through its contract.
    files: ['ui/src/renderer/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/hub/src/*', '!**/hub/src/contract', '**/hub/src/*/**', '!**/hub/src/contract/**'], message: 'import only hub/src/contract (DESIGN.md §6)' },
          { group: ['node:*', 'electron', 'electron/*'], message: 'the renderer imports no node:* and no electron (STYLE.md §11)' },
        ],
      }],
    },
  },
  {
    files: ['hub/src/**/*.ts', 'device-agent/src/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate'].map((name) => ({
          name, message: 'take a Clock (STYLE.md §2)',
        })),
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'use clock.now() (STYLE.md §2)' },
        { object: 'performance', property: 'now', message: 'use clock.monotonicMs() (STYLE.md §2)' },
      ],
      'no-restricted-syntax': ['error', {
        selector: "NewExpression[callee.name='Date'][arguments.length=0]",
        message: 'new Date() reads the time: use new Date(clock.now()) (STYLE.md §2)',
      }],
    },
  },
)

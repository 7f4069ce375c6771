/**
 * The hub's own browser modules the operator UI imports (issue 8: its live views use the
 * `ringhub/channels` client). The renderer has no bundler, and its CSP (`script-src 'self'`)
 * forbids an inline import map, so it imports them by a relative URL under `hub/`:
 * `ui/src/renderer/client/channel-link.ts` imports `../hub/client/channels.js`, which imports
 * `../contract/channels.js`. Hubs serve exactly these files at `/hub/…` (static-files.ts), and
 * scripts/copy-renderer-static.js copies them into ui/dist/renderer/hub/… for the desktop app's
 * bundled copy. Nothing else of hub/dist is served: this list is the whole allowlist, and every
 * module in it imports only modules in it (a unit test reads their imports).
 */

/** URL path under the page (no leading slash) → the compiled file, relative to the package root. */
export const RENDERER_HUB_MODULES: Readonly<Record<string, string>> = {
  'hub/client/channels.js': 'hub/dist/client/channels.js',
  'hub/contract/channels.js': 'hub/dist/contract/channels.js',
}

/** The URL prefix of those modules; any other path under it is a 404, never a file. */
export const RENDERER_HUB_PREFIX = 'hub/'

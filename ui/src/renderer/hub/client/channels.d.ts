/**
 * Types of `./channels.js`, which is not compiled from here: it is the hub's `ringhub/channels`
 * client (hub/src/client/channels.ts), served by every hub at `/hub/client/channels.js` and
 * copied to ui/dist/renderer/hub/client/ for the desktop app (hub/src/admin/renderer-modules.ts,
 * scripts/copy-renderer-static.js). The renderer imports it by this relative path because a page
 * without a bundler cannot resolve the package name, and its CSP forbids an inline import map.
 */
export * from 'ringhub/channels'

/**
 * The bundled copy of the renderer, served to the window from a privileged custom scheme
 * (`ringhub-app://bundle/index.html`) instead of `file://`. The renderer is ES modules
 * (`<script type="module">`), and Chromium fetches module scripts with CORS: from a `file://`
 * page (origin `null`) it refuses them ("Cross origin requests are only supported for protocol
 * schemes: … http, https …"), so the page would stay at "Loading Ringhub…". Electron's
 * maintainers answer the same for Electron (electron/electron#12011: use a custom protocol).
 * A standard, secure scheme gives the page a real origin, so its modules, `'self'` in the CSP
 * and `fetch` behave as on a hub's page.
 *
 * Pure over `readFile`, so the URL → file mapping and the answers are unit-tested without
 * Electron; main.ts registers the scheme (before `ready`) and the handler.
 */
import { extname, join, sep } from 'node:path'

export const APP_SCHEME = 'ringhub-app'
export const APP_HOST = 'bundle'
/** The bundled renderer's page; the window loads it with `?reason=` (window-policy.ts). */
export const LOCAL_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`

/**
 * For `protocol.registerSchemesAsPrivileged`: `standard` (a real origin, relative URLs resolve),
 * `secure` (like https: no mixed-content downgrade), `supportFetchAPI`. Not `bypassCSP`: the
 * page keeps its own policy, and the handler adds the app's.
 */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true } as const

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  // Module scripts must come with a JavaScript MIME type (HTML "fetch a single module script").
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

export type AppFile =
  | { ok: true, path: string, contentType: string }
  | { ok: false, status: 404, reason: string }

/**
 * The file under `rootDir` that an app URL names, or 404: another scheme or host, a malformed
 * escape, NUL, backslashes, `.`/`..` or hidden segments (encoded or not), a type not served.
 */
export function resolveAppFile(rawUrl: string, rootDir: string): AppFile {
  const no = (reason: string): AppFile => ({ ok: false, status: 404, reason })
  let url: URL
  try { url = new URL(rawUrl) } catch { return no('not a URL') }
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return no(`not ${APP_SCHEME}://${APP_HOST}/`)
  let decoded: string
  try { decoded = decodeURIComponent(url.pathname) } catch { return no('malformed escape') }
  if (decoded.includes('\0') || decoded.includes('\\')) return no('unsafe path')
  const parts = decoded.split('/').filter((p) => p !== '')
  if (parts.some((p) => p.startsWith('.'))) return no('unsafe path')
  if (parts.length === 0) parts.push('index.html')
  const contentType = CONTENT_TYPES[extname(parts.at(-1) as string).toLowerCase()]
  if (contentType === undefined) return no('not a file type the renderer has')
  const path = join(rootDir, ...parts)
  if (!path.startsWith(rootDir.endsWith(sep) ? rootDir : rootDir + sep)) return no('outside the renderer')
  return { ok: true, path, contentType }
}

export interface AppProtocolDeps {
  /** ui/dist/renderer, absolute. */
  rootDir: string
  readFile: (path: string) => Promise<Uint8Array>
  /** The app's Content-Security-Policy for the page (window-policy.ts), sent with every answer. */
  csp: () => string
}

/** The `protocol.handle` handler: GET/HEAD of the renderer's files, anything else refused. */
export function appProtocolHandler(deps: AppProtocolDeps): (request: { url: string, method: string }) => Promise<Response> {
  return async (request) => {
    const headers = { 'content-security-policy': deps.csp(), 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' }
    const text = (status: number, body: string): Response => new Response(body, { status, headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' } })
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'the app serves its files for GET only')
    const file = resolveAppFile(request.url, deps.rootDir)
    if (!file.ok) return text(file.status, file.reason)
    let body: Uint8Array
    try {
      body = await deps.readFile(file.path)
    } catch {
      return text(404, 'no such file')
    }
    return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers: { ...headers, 'content-type': file.contentType } })
  }
}

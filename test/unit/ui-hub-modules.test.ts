import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, posix } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { RENDERER_HUB_MODULES } from '../../hub/src/admin/renderer-modules.js'
import { resolveAppFile } from '../../ui/src/main/app-protocol.js'
import { REPO_ROOT } from '../helpers/hubs.js'

// The hub modules the renderer imports (the channel client, issue 8): an allowlist closed under
// imports, copied next to the renderer for the desktop app, and served there by the app's scheme.
const dest = mkdtempSync(join(tmpdir(), 'ringhub-renderer-copy-'))
afterAll(() => rmSync(dest, { recursive: true, force: true }))

/** The relative module specifiers a compiled module imports (static and dynamic). */
function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1] as string)
}

describe('the renderer\'s hub modules', () => {
  it('are the channel client and its contract, and import nothing outside the list (so nothing else need be served)', () => {
    expect(Object.keys(RENDERER_HUB_MODULES).sort()).toEqual(['hub/client/channels.js', 'hub/contract/channels.js'])
    for (const [url, file] of Object.entries(RENDERER_HUB_MODULES)) {
      const imports = importsOf(readFileSync(join(REPO_ROOT, file), 'utf8'))
      for (const spec of imports) {
        expect(spec, `${file} imports ${spec}`).toMatch(/^\.\.?\//)
        expect(RENDERER_HUB_MODULES, `${file} imports ${spec}`).toHaveProperty([posix.join(posix.dirname(url), spec)])
      }
    }
    expect(importsOf(readFileSync(join(REPO_ROOT, 'hub/dist/client/channels.js'), 'utf8'))).toEqual(['../contract/channels.js'])
  })

  it('the renderer imports the client by the path the list serves', () => {
    const compiled = readFileSync(join(REPO_ROOT, 'ui/dist/renderer/client/channel-link.js'), 'utf8')
    const specs = importsOf(compiled).filter((s) => s.includes('hub/'))
    expect(specs).toEqual(['../hub/client/channels.js'])
    expect(RENDERER_HUB_MODULES).toHaveProperty([posix.join('client', specs[0] as string)])
  })

  it('scripts/copy-renderer-static.js copies them (and index.html) for the desktop app, where the app\'s scheme serves them', () => {
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/copy-renderer-static.js'), dest], { stdio: 'pipe' })
    for (const [url, file] of Object.entries(RENDERER_HUB_MODULES)) {
      expect(readFileSync(join(dest, url), 'utf8')).toBe(readFileSync(join(REPO_ROOT, file), 'utf8'))
      expect(resolveAppFile(`ringhub-app://bundle/${url}`, dest)).toEqual({ ok: true, path: join(dest, url), contentType: 'text/javascript; charset=utf-8' })
    }
    expect(existsSync(join(dest, 'index.html'))).toBe(true)
    // Nothing else of the hub.
    expect(readdirSync(join(dest, 'hub'), { recursive: true }).map(String).filter((p) => p.endsWith('.js')).sort()).toEqual(['client/channels.js', 'contract/channels.js'])
    expect(dirname(join(dest, 'hub/client/channels.js'))).toBe(join(dest, 'hub', 'client'))
  })
})

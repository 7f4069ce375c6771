import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { REPO_ROOT } from '../helpers/hubs.js'

interface FileSet { from: string, to: string, filter?: string[] }
interface BuilderConfig {
  appId: string
  productName: string
  extraMetadata: { main: string }
  npmRebuild: boolean
  nodeGypRebuild: boolean
  buildDependenciesFromSource: boolean
  asarUnpack: string[]
  files: Array<string | FileSet>
  linux: { target: string[] }
  mac: { target: string[] }
  win: { target: string[] }
}

const config = parse(readFileSync(join(REPO_ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig
const patterns = config.files.filter((f): f is string => typeof f === 'string')

// electron-builder itself cannot run here (it downloads Electron); these pin what the packages
// must contain and that packaging never rebuilds the checkout's native modules (STYLE §12).
describe('electron-builder.yml', () => {
  it('names the app and builds AppImage, deb, nsis and dmg', () => {
    expect(config.appId).toBe('io.ringhub.operator')
    expect(config.productName).toBe('Ringhub')
    expect(config.linux.target).toEqual(['AppImage', 'deb'])
    expect(config.win.target).toEqual(['nsis'])
    expect(config.mac.target).toEqual(['dmg'])
  })

  it('never rebuilds native modules in place', () => {
    expect(config.npmRebuild).toBe(false)
    expect(config.nodeGypRebuild).toBe(false)
    expect(config.buildDependenciesFromSource).toBe(false)
    expect(config.asarUnpack).toContain('**/*.node')
    // better-sqlite3 comes from the staging copy, not node_modules.
    expect(patterns).toContain('!node_modules/better-sqlite3/**')
    expect(config.files).toContainEqual(expect.objectContaining({ from: 'build/electron-native/node_modules/better-sqlite3', to: 'node_modules/better-sqlite3' }))
  })

  it('packages the entry main.ts builds, its preload, the renderer and the observer', () => {
    expect(config.extraMetadata.main).toBe('ui/dist/main/main.js')
    const main = readFileSync(join(REPO_ROOT, 'ui/src/main/main.ts'), 'utf8')
    expect(main).toContain("join(root, 'ui', 'dist', 'preload', 'preload.cjs')")
    expect(main).toContain("join(root, 'ui', 'dist', 'renderer')")
    expect(main).toContain('protocol.handle(APP_SCHEME')
    expect(main).toContain("from '../../../hub/dist/observer/observer-node.js'")
    for (const pattern of ['ui/dist/main/**/*.js', 'ui/dist/preload/**/*.cjs', 'ui/dist/renderer/**', 'hub/dist/**/*.js', 'bin/ringhub.js', 'package.json']) {
      expect(patterns).toContain(pattern)
    }
  })
})

import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (hub/dist/cli is three levels down). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * The Electron binary the `electron` package downloaded, or why there is none. The package
 * installs without it where its download is blocked (as on the machines this was built on); the
 * demo then runs without the desktop app and says so.
 */
export function electronBinary(root = ROOT): { path: string } | { missing: string } {
  const pkg = join(root, 'node_modules', 'electron')
  if (!existsSync(pkg)) return { missing: 'the electron package is not installed' }
  const pathFile = join(pkg, 'path.txt')
  if (!existsSync(pathFile)) return { missing: 'its binary was not downloaded (npm run desktop:fetch-electron)' }
  const path = join(pkg, 'dist', readFileSync(pathFile, 'utf8').trim())
  try {
    accessSync(path, constants.X_OK)
  } catch {
    return { missing: `${path} is not an executable file` }
  }
  return { path }
}

/** The built desktop app's entry (`npm install` builds it), or undefined when it is not built. */
export function desktopEntry(root = ROOT): string | undefined {
  const entry = join(root, 'ui', 'dist', 'main', 'main.js')
  return existsSync(entry) ? entry : undefined
}

/**
 * Starts the desktop app on the demo's first hub (`RINGHUB_DESKTOP_ADMIN_URL`, used when the app
 * has no hub configured yet). Its output is not the demo's: ignored.
 */
export function startDesktop(binary: string, entry: string, adminUrl: string): ChildProcess {
  const child = spawn(binary, [entry], { stdio: 'ignore', env: { ...process.env, RINGHUB_DESKTOP_ADMIN_URL: adminUrl } })
  child.on('error', () => { /* reported by the exit the demo awaits */ })
  return child
}

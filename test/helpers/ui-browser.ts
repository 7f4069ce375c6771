import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { REPO_ROOT } from './hubs.js'

/** Debian's Chromium (.ci/run installs it); playwright-core downloads no browser of its own. */
export const CHROMIUM_PATH = process.env.RINGHUB_CHROMIUM ?? '/usr/bin/chromium'
export const RESULTS_DIR = join(REPO_ROOT, 'test-results')

/**
 * A headless Chromium for the UI's browser tests. `errors` collects uncaught page errors and
 * console errors of every page opened, so a test can assert the renderer threw nothing.
 */
export class UiBrowser {
  readonly errors: string[] = []
  readonly pages: Page[] = []

  private constructor(readonly browser: Browser) {}

  static async launch(): Promise<UiBrowser> {
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'],
    })
    return new UiBrowser(browser)
  }

  /** A fresh page (own context: no shared storage) at `url`, 1400×900. */
  async open(url: string): Promise<Page> {
    const context = await this.browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true })
    const page = await context.newPage()
    page.on('pageerror', (err) => this.errors.push(`pageerror: ${err.message}`))
    page.on('console', (msg) => {
      // A failed fetch of a feed the hub does not serve yet logs a resource error; those are
      // shown in the UI's status line and are not renderer bugs.
      if (msg.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(msg.text())) this.errors.push(`console: ${msg.text()}`)
    })
    this.pages.push(page)
    await page.goto(url)
    return page
  }

  /** Saves a full-page screenshot as test-results/<name>.png. */
  async screenshot(page: Page, name: string): Promise<string> {
    mkdirSync(RESULTS_DIR, { recursive: true })
    const path = join(RESULTS_DIR, `${name}.png`)
    await page.screenshot({ path, fullPage: true })
    return path
  }

  async close(): Promise<void> {
    await this.browser.close()
  }
}

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/** Ringhub's version, from the root package.json. */
export const RINGHUB_VERSION: string = (require('../../package.json') as { version: string }).version

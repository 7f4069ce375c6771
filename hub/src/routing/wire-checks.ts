/** Type checks for what a peer sent (decoded msgpack): the router's messages and request rows. */

const QOS = new Set([0, 1, 2])

export const isString = (v: unknown): v is string => typeof v === 'string'
export const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array
export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
export const isQos = (v: unknown): v is 0 | 1 | 2 => QOS.has(v as number)

/**
 * The ring checksum (STYLE.md §10, after ringpop's): one short value that every hub computes the
 * same way from the same set of key-owning hubs, so views are compared without member lists.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5
const FNV_PRIME = 0x01000193
const encoder = new TextEncoder()

/** 32-bit FNV-1a over `bytes`, continuing from `hash`. */
export function fnv1a32(bytes: Uint8Array, hash = FNV_OFFSET_BASIS): number {
  let h = hash
  for (const b of bytes) h = Math.imul(h ^ b, FNV_PRIME) >>> 0
  return h >>> 0
}

/**
 * Checksum of a ring: FNV-1a (32 bits, as 8 lowercase hex digits) over `format`, then each id in
 * sorted order, each preceded by its UTF-8 length so no id needs a forbidden separator character
 * (`["a,b"]` and `["a", "b"]` hash differently).
 *
 * `format` names the ring's hashing settings: a hub built with other vnode settings places keys
 * differently, so it must not show the same checksum for the same members. 32 bits is enough for
 * a quick equality check between a handful of views; code that must be sure compares member lists.
 */
export function ringChecksum(format: string, sortedIds: readonly string[]): string {
  let h = fnv1a32(encoder.encode(format))
  for (const id of sortedIds) {
    const bytes = encoder.encode(id)
    h = fnv1a32(lengthPrefix(bytes.length), h)
    h = fnv1a32(bytes, h)
  }
  return h.toString(16).padStart(8, '0')
}

function lengthPrefix(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}

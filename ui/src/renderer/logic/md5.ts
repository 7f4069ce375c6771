/**
 * MD5 (RFC 1321) over bytes, for ring arithmetic in the browser: the hub places vnodes with
 * hashring's md5 and the renderer must place them the same way without Node's crypto. Placement
 * only, never security. Table-tested against Node's crypto in test/unit/ui-ring-arcs.test.ts.
 */

/** Per-round shift amounts, RFC 1321 §3.4. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]
/** K[i] = floor(|sin(i + 1)| · 2³²), RFC 1321 §3.4. */
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0)

/** The 16-byte digest of `input` (a string is hashed as UTF-8). */
export function md5(input: Uint8Array | string): Uint8Array {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input
  // Padding: 0x80, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
  const total = ((bytes.length + 8) >>> 6) * 64 + 64
  const buf = new Uint8Array(total)
  buf.set(bytes)
  buf[bytes.length] = 0x80
  const view = new DataView(buf.buffer)
  view.setUint32(total - 8, (bytes.length * 8) >>> 0, true)
  view.setUint32(total - 4, Math.floor(bytes.length / 0x20000000), true)

  let a0 = 0x67452301
  let b0 = 0xefcdab89
  let c0 = 0x98badcfe
  let d0 = 0x10325476
  const m = new Uint32Array(16)
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) m[i] = view.getUint32(off + i * 4, true)
    let a = a0
    let b = b0
    let c = c0
    let d = d0
    for (let i = 0; i < 64; i++) {
      let f: number
      let g: number
      if (i < 16) { f = (b & c) | (~b & d); g = i } else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16 } else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16 } else { f = c ^ (b | ~d); g = (7 * i) % 16 }
      const sum = (a + f + (K[i] as number) + (m[g] as number)) >>> 0
      const s = SHIFTS[(i >>> 4) * 4 + (i % 4)] as number
      a = d
      d = c
      c = b
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0
    }
    a0 = (a0 + a) >>> 0
    b0 = (b0 + b) >>> 0
    c0 = (c0 + c) >>> 0
    d0 = (d0 + d) >>> 0
  }
  const out = new Uint8Array(16)
  const outView = new DataView(out.buffer)
  outView.setUint32(0, a0, true)
  outView.setUint32(4, b0, true)
  outView.setUint32(8, c0, true)
  outView.setUint32(12, d0, true)
  return out
}

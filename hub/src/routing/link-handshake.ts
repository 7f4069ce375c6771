import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { ProtocolError } from '../base/errors.js'
import { FrameKind, type Frame } from './link-frames.js'

/**
 * The inter-hub link's handshake (docs/routing.md). One connection carries both hubs' frames, so
 * each side must learn who the other is and, when the ring has gossip keys, that it holds one:
 *
 * ```
 * dialer (smaller id)                                  acceptor
 *                     ◀── challenge { nonce: Na }                     only with keys
 * hello { id, boot, nonce: Nd, mac } ──▶                              mac = HMAC-SHA256(k, Na ‖ id)
 *                     ◀── welcome { id, boot, mac }                   mac = HMAC-SHA256(k, "welcome" ‖ Nd ‖ id)
 * ```
 *
 * Without keys the dialer sends `hello { id, boot }` at once and the answer is `welcome { id, boot }`.
 * Each side checks the other's proof against every installed key (a rotation carries over) with
 * its primary key used for its own. `boot` names one run of a hub process, so the logs tell a
 * restarted peer from a redial. `beatMs` (optional, in the hello and the welcome) says the hub
 * sends a beat frame when it has sent nothing else for that long (`tcp-peer-bus.ts`, "silent
 * links"): only a peer that announced it is expected to beat, and only such a peer is sent beats
 * (a hub before them would close the link on a frame kind it does not know).
 */
export const NONCE_BYTES = 16
const MAX_NAME_CHARS = 128
/** The longest beat interval a peer may announce, ms. */
export const MAX_BEAT_MS = 60_000

export interface LinkPeer { id: string, boot: string, beatMs?: number }

type Send = (kind: FrameKind, body: object) => void

/**
 * The dialing end's half: `start()` once the socket is up (TCP connected or TLS established),
 * then `receive` each frame until it returns the peer (the welcome); bad frames throw ProtocolError.
 */
export class DialerHandshake {
  #helloSent = false
  #nonce: Uint8Array | undefined

  constructor(private readonly self: LinkPeer, private readonly keys: readonly Uint8Array[], private readonly expected: string, private readonly send: Send) {}

  /** Without keys the hello goes at once; with keys it answers the acceptor's challenge. */
  start(): void {
    if (this.keys.length === 0) this.#hello(undefined)
  }

  receive(frame: Frame): LinkPeer | undefined {
    if (frame.kind === FrameKind.challenge && this.keys.length > 0 && !this.#helloSent) {
      this.#hello(challengeNonce(frame.body))
      return undefined
    }
    if (frame.kind === FrameKind.challenge && this.keys.length === 0) throw new ProtocolError('auth-failed', `${this.expected} asks for a gossip key; this hub has none`)
    if (frame.kind !== FrameKind.welcome || !this.#helloSent) throw new ProtocolError('malformed', `router frame kind ${frame.kind} before the welcome`)
    return checkWelcome(frame.body, this.keys, this.#nonce, this.expected)
  }

  #hello(challenge: Uint8Array | undefined): void {
    const hello = makeHello(this.self, this.keys, challenge)
    this.#nonce = hello.nonce
    this.#helloSent = true
    this.send(FrameKind.hello, hello.body)
  }
}

/**
 * The accepting end's half: sends the challenge (with keys) when made; `receive` checks the first
 * frame, the hello, and returns the peer; `welcome` answers it once the caller has admitted it.
 */
export class AcceptorHandshake {
  readonly #challenge: Uint8Array | undefined

  constructor(private readonly self: LinkPeer, private readonly keys: readonly Uint8Array[], private readonly send: Send) {
    this.#challenge = keys.length > 0 ? randomBytes(NONCE_BYTES) : undefined
    if (this.#challenge) send(FrameKind.challenge, { nonce: this.#challenge })
  }

  receive(frame: Frame): LinkPeer & { nonce: Uint8Array | undefined } {
    if (frame.kind !== FrameKind.hello) throw new ProtocolError('malformed', 'router connection must start with hello')
    return checkHello(frame.body, this.keys, this.#challenge)
  }

  welcome(hello: { nonce: Uint8Array | undefined }): void {
    this.send(FrameKind.welcome, makeWelcome(this.self, this.keys, hello.nonce))
  }
}

/** HMAC-SHA256(key, nonce ‖ UTF-8 id): what a dialing hub shows to prove it holds a ring key. */
export function helloMac(key: Uint8Array, nonce: Uint8Array, id: string): Uint8Array {
  return createHmac('sha256', key).update(nonce).update(id, 'utf8').digest()
}

/** HMAC-SHA256(key, "welcome" ‖ nonce ‖ UTF-8 id): the accepting hub's proof (a hello's MAC cannot pass for it). */
export function welcomeMac(key: Uint8Array, nonce: Uint8Array, id: string): Uint8Array {
  return createHmac('sha256', key).update('welcome', 'utf8').update(nonce).update(id, 'utf8').digest()
}

/** The 16-byte nonce of a `challenge` frame's body. */
export function challengeNonce(body: unknown): Uint8Array {
  const nonce = field(body, 'nonce')
  if (!isNonce(nonce)) throw new ProtocolError('malformed', 'bad router challenge')
  return nonce
}

/** The dialer's hello, answering `challenge` when there are keys; `nonce` is what the welcome must prove. */
export function makeHello(self: LinkPeer, keys: readonly Uint8Array[], challenge: Uint8Array | undefined): { body: object, nonce: Uint8Array | undefined } {
  const key = keys[0]
  if (key === undefined || challenge === undefined) return { body: named(self), nonce: undefined }
  const nonce = randomBytes(NONCE_BYTES)
  return { body: { ...named(self), nonce, mac: helloMac(key, challenge, self.id) }, nonce }
}

/** Checks a hello against the challenge this hub sent (none: no keys); returns the peer and its nonce. */
export function checkHello(body: unknown, keys: readonly Uint8Array[], challenge: Uint8Array | undefined): LinkPeer & { nonce: Uint8Array | undefined } {
  const peer = readPeer(body, 'hello')
  if (challenge === undefined) return { ...peer, nonce: undefined }
  const nonce = field(body, 'nonce')
  const mac = field(body, 'mac')
  if (!isNonce(nonce) || !keys.some((key) => macMatches(mac, helloMac(key, challenge, peer.id)))) {
    throw new ProtocolError('auth-failed', `router hello from ${peer.id} does not prove a gossip key`)
  }
  return { ...peer, nonce }
}

/** The acceptor's answer to a good hello; proves a key when the hello carried a nonce. */
export function makeWelcome(self: LinkPeer, keys: readonly Uint8Array[], nonce: Uint8Array | undefined): object {
  const key = keys[0]
  if (key === undefined || nonce === undefined) return named(self)
  return { ...named(self), mac: welcomeMac(key, nonce, self.id) }
}

/**
 * Checks the welcome on a connection dialed to `expected` with hello nonce `nonce` (none: no
 * keys). Another id at that address (a hub that took over the port) is refused, `wrong-peer`.
 */
export function checkWelcome(body: unknown, keys: readonly Uint8Array[], nonce: Uint8Array | undefined, expected: string): LinkPeer {
  const peer = readPeer(body, 'welcome')
  if (peer.id !== expected) throw new ProtocolError('wrong-peer', `dialed ${expected} but ${peer.id} answered`)
  if (nonce !== undefined && !keys.some((key) => macMatches(field(body, 'mac'), welcomeMac(key, nonce, peer.id)))) {
    throw new ProtocolError('auth-failed', `router welcome from ${peer.id} does not prove a gossip key`)
  }
  return peer
}

/** What a hello or welcome says of its hub: id, boot, and its beat interval when it beats. */
function named(self: LinkPeer): object {
  return self.beatMs === undefined ? { id: self.id, boot: self.boot } : { id: self.id, boot: self.boot, beatMs: self.beatMs }
}

function readPeer(body: unknown, what: string): LinkPeer {
  const id = field(body, 'id')
  const boot = field(body, 'boot')
  if (!isName(id) || !isName(boot)) throw new ProtocolError('malformed', `router ${what} needs an id and a boot`)
  const beatMs = field(body, 'beatMs')
  if (beatMs === undefined) return { id, boot }
  if (typeof beatMs !== 'number' || !Number.isInteger(beatMs) || beatMs < 1 || beatMs > MAX_BEAT_MS) {
    throw new ProtocolError('malformed', `router ${what} from ${id}: beatMs must be an integer from 1 to ${MAX_BEAT_MS}`)
  }
  return { id, boot, beatMs }
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined
}

function isName(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_NAME_CHARS
}

function isNonce(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === NONCE_BYTES
}

function macMatches(given: unknown, expected: Uint8Array): boolean {
  return given instanceof Uint8Array && given.length === expected.length && timingSafeEqual(given, expected)
}

import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { AdminChannel, AdminClientFrame, AdminServerFrame } from '../contract/admin-api.js'
import type { AdminMetrics } from './admin-metrics.js'
import type { UpgradeHandler } from './admin-server.js'
import { parseClientFrame } from './ws-frames.js'
import { PingSweep, rawText } from './ws-ping.js'

export const WS_API_PATH = '/api/v1/ws'
/** Hard bound of one client frame (ws closes the socket beyond it, 1009); up to it, frames over MAX_CLIENT_FRAME_BYTES get an error frame. */
const HARD_MAX_FRAME_BYTES = 1024 * 1024
/** Unsent bytes beyond which droppable frames (tap, stats, devices) are dropped and counted. */
export const SLOW_DROP_BYTES = 1024 * 1024
/** Unsent bytes beyond which the socket is closed: a client that reads nothing costs nothing. */
export const SLOW_CLOSE_BYTES = 4 * 1024 * 1024
/** Error frames one socket may earn before it is closed (1008) as abusive. */
export const MAX_ERRORS_PER_SOCKET = 20
/**
 * Every socket is pinged this often; one that has not answered the previous ping is closed: a
 * client that vanished without closing (a laptop lid) must not keep its tap's interest forever.
 */
export const HEARTBEAT_MS = 30_000

export type SubscribeFrame = Extract<AdminClientFrame, { op: 'subscribe' }>

export interface Subscriber {
  /** Sends a frame; a `droppable` one is dropped (counted) while the socket is not draining. */
  send(frame: AdminServerFrame, droppable: boolean): void
}

export interface ChannelProvider {
  /** Starts feeding `sub`: the stop function and the first frame to send after `ok`, or an error text. */
  open(sub: Subscriber, frame: SubscribeFrame): { stop: () => void, initial?: AdminServerFrame } | string
}

/**
 * The operator WebSocket (`/api/v1/ws`): JSON frames per AdminClientFrame / AdminServerFrame,
 * one subscription per channel and socket (subscribing again replaces it, e.g. a new tap filter).
 * Bad frames get an error frame and are counted; a socket that keeps sending them is closed, and
 * one that does not read is first spared droppable frames, then closed.
 */
export class AdminWs {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: HARD_MAX_FRAME_BYTES })
  readonly #sockets: PingSweep

  constructor(private readonly deps: { channels: Record<AdminChannel, ChannelProvider>, metrics: AdminMetrics, log: Logger, clock: Clock }) {
    this.#sockets = new PingSweep(deps.clock, HEARTBEAT_MS, () => deps.metrics.wsClosed.inc({ reason: 'no-pong' }))
  }

  handler(): UpgradeHandler {
    return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws))
    }
  }

  get clients(): number { return this.#sockets.size }

  close(): void {
    this.#sockets.close()
    this.#wss.close()
  }

  #accept(ws: WebSocket): void {
    const { metrics, log } = this.deps
    const subscriptions = new Map<AdminChannel, () => void>()
    let errors = 0
    this.#sockets.track(ws)
    metrics.wsClients.inc()
    const closeAll = (): void => {
      for (const stop of subscriptions.values()) stop()
      subscriptions.clear()
    }
    const raw = (frame: AdminServerFrame): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame))
    }
    const sub: Subscriber = {
      send: (frame, droppable) => {
        if (ws.readyState !== ws.OPEN) return
        if (ws.bufferedAmount > SLOW_CLOSE_BYTES) {
          metrics.wsClosed.inc({ reason: 'slow' })
          closeAll()
          ws.terminate()
          return
        }
        if (droppable && ws.bufferedAmount > SLOW_DROP_BYTES) {
          if (frame.op === 'tap') metrics.tapDropped.inc()
          return
        }
        raw(frame)
      },
    }
    const refuse = (ref: string | null, code: string, reason: string): void => {
      metrics.wsBadFrames.inc({ reason: code })
      raw({ ref, op: 'error', reason })
      if (++errors > MAX_ERRORS_PER_SOCKET) {
        metrics.wsClosed.inc({ reason: 'abuse' })
        ws.close(1008, 'too many bad frames')
      }
    }
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return refuse(null, 'binary', 'frames are JSON text')
      const parsed = parseClientFrame(rawText(data))
      if (!parsed.ok) return refuse(parsed.ref, parsed.code, parsed.reason)
      const frame = parsed.frame
      if (frame.op === 'ping') return raw({ ref: frame.ref, op: 'ok' })
      if (frame.op === 'unsubscribe') {
        subscriptions.get(frame.channel)?.()
        subscriptions.delete(frame.channel)
        return raw({ ref: frame.ref, op: 'ok' })
      }
      // The new subscription first: a refused one leaves the open one as it was (bad frames
      // change nothing); an accepted one replaces it.
      // A subscriber object of its own: providers keep sets of subscribers, and the one being
      // replaced must not remove the new one when it stops.
      const opened = this.deps.channels[frame.channel].open({ send: sub.send }, frame)
      if (typeof opened === 'string') return refuse(frame.ref, 'refused', opened)
      subscriptions.get(frame.channel)?.()
      subscriptions.set(frame.channel, opened.stop)
      raw({ ref: frame.ref, op: 'ok' })
      if (opened.initial) raw(opened.initial)
    })
    ws.on('error', (err: Error & { code?: string }) => {
      metrics.wsBadFrames.inc({ reason: err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'oversized' : 'websocket' })
      log.info({ err: err.message }, 'admin WebSocket error; closed')
    })
    ws.on('close', () => {
      closeAll()
      metrics.wsClients.dec()
    })
  }
}

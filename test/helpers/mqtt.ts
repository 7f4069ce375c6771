import { connect as netConnect } from 'node:net'
import mqttPacket from 'mqtt-packet'
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt'

export interface Received {
  topic: string
  payload: string
  qos: number
  retain: boolean
}

/** Connects with mqtt.js and resolves once CONNACK arrived (rejects on refusal or deadline). */
export async function connect(url: string, opts: IClientOptions = {}, deadlineMs = 5_000): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: deadlineMs, ...opts })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Given up: the client must not go on and report its own connack timeout later (an
      // unhandled 'error' event fails whatever test runs then).
      client.on('error', () => {})
      client.end(true)
      reject(new Error(`connect to ${url} timed out`))
    }, deadlineMs)
    client.once('connect', () => { clearTimeout(timer); resolve() })
    client.once('error', (err) => { clearTimeout(timer); client.end(true); reject(err) })
    client.once('close', () => { clearTimeout(timer); reject(new Error('connection closed before CONNACK')) })
  })
  return client
}

/** Collects every message a client receives. */
export function collect(client: MqttClient): Received[] {
  const got: Received[] = []
  client.on('message', (topic, payload, packet: IPublishPacket) => {
    got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain })
  })
  return got
}

export function close(...clients: Array<MqttClient | undefined>): Promise<void[]> {
  return Promise.all(clients.map((c) => (c ? c.endAsync(true) : Promise.resolve())))
}

/**
 * Sends one raw CONNECT (bypassing mqtt.js' own checks) and resolves with the CONNACK return
 * code, or -1 when the hub closes the socket without one.
 */
export async function rawConnack(port: number, connect: Partial<Parameters<typeof encodeConnect>[0]>, deadlineMs = 5_000): Promise<number> {
  const socket = netConnect(port, '127.0.0.1')
  const parser = mqttPacket.parser()
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CONNACK in time')), deadlineMs)
      parser.on('packet', (p) => { if (p.cmd === 'connack') { clearTimeout(timer); resolve(p.returnCode ?? 0) } })
      socket.on('data', (d) => parser.parse(d))
      socket.on('error', () => {})
      socket.on('close', () => { clearTimeout(timer); resolve(-1) })
      socket.write(encodeConnect({ clientId: 'raw', clean: true, ...connect }))
    })
  } finally {
    socket.destroy()
  }
}

/** The QoS the hub granted for one filter (128 = refused); mqtt.js rejects on 128, so unwrap. */
export async function grantedQos(client: MqttClient, filter: string, qos: 0 | 1 | 2): Promise<number> {
  try {
    const granted = await client.subscribeAsync(filter, { qos })
    return granted[0]?.qos ?? -1
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet
    if (packet?.granted) return packet.granted[0] ?? -1
    throw err
  }
}

/**
 * A CONNECT packet built by hand, because mqtt-packet refuses to encode some invalid ones (an
 * empty client id with clean session 0) that a hub must still answer correctly.
 */
export function encodeConnect(c: { clientId: string, clean: boolean, username?: string, password?: Buffer, protocolVersion?: number, keepalive?: number }): Buffer {
  const str = (s: string | Buffer): Buffer => {
    const b = typeof s === 'string' ? Buffer.from(s) : s
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
  }
  const flags = (c.username !== undefined ? 0x80 : 0) | (c.password !== undefined ? 0x40 : 0) | (c.clean ? 0x02 : 0)
  const keepalive = c.keepalive ?? 0
  const variable = Buffer.concat([str('MQTT'), Buffer.from([c.protocolVersion ?? 4, flags, keepalive >> 8, keepalive & 0xff])])
  const payload = Buffer.concat([
    str(c.clientId),
    ...(c.username !== undefined ? [str(c.username)] : []),
    ...(c.password !== undefined ? [str(c.password)] : []),
  ])
  const body = Buffer.concat([variable, payload])
  return Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(body.length), body])
}

/** MQTT's variable-length Remaining Length encoding (§2.2.3). */
export function encodeRemainingLength(n: number): Buffer {
  const out: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Buffer.from(out)
}

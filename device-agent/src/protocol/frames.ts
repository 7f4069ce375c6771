/**
 * The serial line protocol (docs/serial-protocol.md): one JSON object per line, `type` first.
 * These are plain data types shared by the agent and the firmware simulator.
 */

/** Frame types a device sends. The set is append-only; unknown types are counted and dropped. */
export const DEVICE_FRAME_TYPES = ['hello', 'telemetry', 'state', 'event', 'response'] as const
export type DeviceFrameType = typeof DEVICE_FRAME_TYPES[number]

/** Fields every device frame may carry. */
interface FrameHeader {
  /** The device id; optional, but when present it must be the id configured for the port. */
  device?: string
  /** The firmware's own frame counter; the agent counts gaps and resets in it. */
  seq?: number
}

export interface HelloFrame extends FrameHeader { type: 'hello', payload: Record<string, unknown> }
/** Readings by name: each becomes one message on `devices/<id>/telemetry/<name>`. */
export interface TelemetryFrame extends FrameHeader { type: 'telemetry', payload: Record<string, unknown> }
export interface StateFrame extends FrameHeader { type: 'state', payload: Record<string, unknown> }
export interface EventFrame extends FrameHeader { type: 'event', name: string, payload: unknown }
export interface ResponseFrame extends FrameHeader {
  type: 'response'
  /** The correlation id of the command being answered. */
  id: string
  ok: boolean
  payload: unknown
  /** The device's reason when `ok` is false. */
  error?: string
}

export type DeviceFrame = HelloFrame | TelemetryFrame | StateFrame | EventFrame | ResponseFrame

/** The one frame the agent writes to the device. */
export interface CommandFrame {
  type: 'command'
  device: string
  /** Correlation id, copied from the MQTT command; the device's response must carry it. */
  id: string
  name: string
  payload: unknown
}

/** A device id or a telemetry/event/command name: one safe MQTT topic level. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/

/** A correlation id: printable ASCII without quotes, 1–64 characters. */
export const ID_PATTERN = /^[\x21\x23-\x7e]{1,64}$/

export function encodeCommand(frame: CommandFrame): Buffer {
  // `type` first: the resync rule looks for `{"type"` (docs/serial-protocol.md).
  return Buffer.from(JSON.stringify({ type: frame.type, device: frame.device, id: frame.id, name: frame.name, payload: frame.payload }) + '\n')
}

/** Encodes a device frame as the firmware does: `type` first, then the header, then the rest. */
export function encodeDeviceFrame(frame: DeviceFrame): Buffer {
  const { type, device, seq, ...rest } = frame
  return Buffer.from(JSON.stringify({ type, ...(device !== undefined ? { device } : {}), ...(seq !== undefined ? { seq } : {}), ...rest }) + '\n')
}

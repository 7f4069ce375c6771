import { readFile, readdir, realpath } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** Which USB device a serial port belongs to (what `lsusb` shows as idVendor:idProduct + iSerial). */
export interface UsbIdentity {
  /** Four lowercase hex digits, e.g. `2341`. */
  vendorId: string
  productId: string
  /** The device's serial number, when it has one; without it the first match wins. */
  serialNumber?: string
}

export interface PortEntry extends UsbIdentity {
  /** The path to open, e.g. `/dev/ttyUSB0`. */
  path: string
}

/** Lists the serial ports that belong to USB devices. */
export interface PortLister {
  list(): Promise<PortEntry[]>
}

/** `2341:0043` or `2341:0043:SN123` → identity; undefined when malformed. */
export function parseUsbIdentity(text: string): UsbIdentity | undefined {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::(.{1,128}))?$/.exec(text)
  if (!m) return undefined
  return { vendorId: (m[1] as string).toLowerCase(), productId: (m[2] as string).toLowerCase(), ...(m[3] !== undefined ? { serialNumber: m[3] } : {}) }
}

export function formatUsbIdentity(id: UsbIdentity): string {
  return `${id.vendorId}:${id.productId}${id.serialNumber !== undefined ? `:${id.serialNumber}` : ''}`
}

export function sameUsbDevice(want: UsbIdentity, have: UsbIdentity): boolean {
  return want.vendorId === have.vendorId && want.productId === have.productId &&
    (want.serialNumber === undefined || want.serialNumber === have.serialNumber)
}

async function readAttr(dir: string, name: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, name), 'utf8')).trim()
  } catch {
    return undefined
  }
}

/**
 * Reads USB identities from sysfs, as udev does: `/sys/class/tty/<name>/device` leads to the USB
 * interface; the USB device (with `idVendor`, `idProduct`, `serial`) is one of its parents.
 * serialport's own `SerialPort.list()` shells out to `udevadm`, which minimal systems and
 * containers lack (and whose absence crashes the process), so the agent reads sysfs itself.
 * `sysRoot` and `devDir` are settable for tests, which build a small tree like sysfs.
 */
export class SysfsPortLister implements PortLister {
  constructor(readonly sysRoot = '/sys', readonly devDir = '/dev') {}

  async list(): Promise<PortEntry[]> {
    const classDir = join(this.sysRoot, 'class', 'tty')
    let names: string[]
    try {
      names = await readdir(classDir)
    } catch {
      return []
    }
    const out: PortEntry[] = []
    for (const name of names.sort()) {
      let dir: string
      try {
        dir = await realpath(join(classDir, name, 'device'))
      } catch {
        continue // virtual terminals have no device
      }
      for (let depth = 0; depth < 4; depth++, dir = dirname(dir)) {
        const vendorId = await readAttr(dir, 'idVendor')
        if (vendorId === undefined) continue
        const productId = await readAttr(dir, 'idProduct')
        if (productId === undefined) break
        const serialNumber = await readAttr(dir, 'serial')
        out.push({ path: join(this.devDir, name), vendorId: vendorId.toLowerCase(), productId: productId.toLowerCase(), ...(serialNumber !== undefined ? { serialNumber } : {}) })
        break
      }
    }
    return out
  }
}

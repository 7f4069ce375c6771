import { networkInterfaces } from 'node:os'
import { formatAddress } from './transport/address.js'

/**
 * The host other hubs and devices should use for this one: `--advertise` (its host part) when
 * given; the bind address when it is a specific one; for a wildcard bind (0.0.0.0, ::), the
 * first non-internal IPv4 address of the machine, as memberlist does, else loopback.
 */
export function advertisedHost(bindHost: string, advertise: string | undefined): string {
  if (advertise !== undefined) {
    const bracketed = /^\[(.+)\](:\d+)?$/.exec(advertise)
    if (bracketed) return bracketed[1] as string
    return /^[^:]+:\d+$/.test(advertise) ? advertise.slice(0, advertise.lastIndexOf(':')) : advertise
  }
  if (bindHost !== '0.0.0.0' && bindHost !== '::') return bindHost
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

export function hostPort(host: string, port: number): string {
  return formatAddress(host, port)
}

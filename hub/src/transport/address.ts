/** "host:port" ⇄ parts; IPv6 hosts in brackets ("[::1]:7946"). */
export function parseAddress(address: string): { host: string, port: number } {
  const colon = address.lastIndexOf(':')
  const rawHost = colon > 0 ? address.slice(0, colon) : ''
  const port = Number(address.slice(colon + 1))
  const host = rawHost.startsWith('[') && rawHost.endsWith(']') ? rawHost.slice(1, -1) : rawHost
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad address ${JSON.stringify(address)} (want host:port)`)
  return { host, port }
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

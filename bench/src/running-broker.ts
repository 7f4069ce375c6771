/** A broker under test, as the broker process sees it: where it listens and how to stop it. */
export interface RunningBroker {
  port: number
  /** A hub's admin HTTP and gossip ports (the ring scenarios find owners and counters there). */
  extraPorts?: { admin: number, gossip: number }
  /** Connected clients as the broker counts them (a sanity check for the idle scenario). */
  clients(): number
  stop(): Promise<void>
}

// aedes-persistence-redis ships no typings. The bench hands what it makes to aedes (whose
// typings take any persistence) and destroys it on stop; that is all it declares here.
declare module 'aedes-persistence-redis' {
  /** The persistence aedes 1.x calls (callback form over the package's async class). */
  export interface RedisPersistence {
    setup(broker: unknown): Promise<void>
    /** Unsubscribes from the broker's emitter and closes its Redis connection. */
    destroy(): Promise<void>
  }
  /** Takes ioredis's connection options (host, port, ...) and opens one connection. */
  export default function createPersistence(opts: { host: string, port: number }): RedisPersistence
}

import { execFileSync } from 'node:child_process'

/** The test process's own address on a test network (hosts are .1 to .N). */
const CONTROL_HOST = 254

/**
 * N test hosts in network namespaces, the layout of `../shared/tools/faultnet.sh` (`PREFIX-hub1`..
 * `PREFIX-hubN` at 10.99.S.1..N/24 on a bridge in `PREFIX-sw`, no default route, so nothing leaves
 * them), built here rather than by calling the script so that a fresh clone needs only iproute2
 * and iptables; plus a veth from the test's (root) namespace onto the bridge at 10.99.S.254, so
 * the test reaches the hubs' admin ports. Faults set with iptables inside a host (partition,
 * one-way, loss) match hub addresses only and leave the control link alone; `isolate` takes a
 * host off the bridge entirely. Needs root.
 */
export class TestNet {
  readonly #controlLink: string
  /** The /24 of this network, e.g. `10.99.7`: one per concurrent run, so two never collide. */
  readonly #net: string
  readonly #control: string

  private constructor(readonly prefix: string, readonly hosts: number, subnet: number) {
    this.#controlLink = `${prefix}-ctl`
    this.#net = `10.99.${subnet}`
    this.#control = `${this.#net}.${CONTROL_HOST}`
  }

  /** Why test hosts cannot be made here, or undefined when they can. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return 'network-namespace tests need root'
    for (const tool of ['ip', 'iptables']) {
      try { execFileSync('which', [tool], { stdio: 'ignore' }) } catch { return `${tool} is not installed (apt-get install iproute2 iptables)` }
    }
    return undefined
  }

  /**
   * Sets up the hosts on 10.99.`subnet`.0/24 (0..253; default from the pid, so concurrent runs
   * differ); leftovers of an earlier run with the same prefix are removed first.
   */
  static up(prefix: string, hosts: number, subnet = process.pid % 254): TestNet {
    const net = new TestNet(prefix, hosts, subnet)
    net.down()
    const sw = `${prefix}-sw`
    ip('netns', 'add', sw)
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', sw, 'link', 'set', 'br0', 'up')
    ip('-n', sw, 'link', 'set', 'lo', 'up')
    for (let i = 1; i <= hosts; i++) {
      const ns = net.namespace(i)
      ip('netns', 'add', ns)
      ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', sw)
      ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0')
      ip('-n', sw, 'link', 'set', `p${i}`, 'up')
      ip('-n', ns, 'addr', 'add', `${net.address(i)}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    const link = net.#controlLink
    ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'ctl', 'netns', sw)
    ip('-n', sw, 'link', 'set', 'ctl', 'master', 'br0')
    ip('-n', sw, 'link', 'set', 'ctl', 'up')
    ip('addr', 'add', `${net.#control}/24`, 'dev', link)
    ip('link', 'set', link, 'up')
    return net
  }

  /** Address of host `i` (1-based). */
  address(i: number): string { return `${this.#net}.${i}` }

  /** Namespace of host `i`, for `ip netns exec`. */
  namespace(i: number): string { return `${this.prefix}-hub${i}` }

  /** Command prefix that runs a program on host `i`. */
  wrap(i: number): string[] { return ['ip', 'netns', 'exec', this.namespace(i)] }

  /** Cuts a and b apart, both directions, every protocol. */
  partition(a: number, b: number): void {
    for (const [x, y] of [[a, b], [b, a]] as const) {
      iptables(this.namespace(x), '-I', 'INPUT', '-s', this.address(y), '-j', 'DROP')
      iptables(this.namespace(x), '-I', 'OUTPUT', '-d', this.address(y), '-j', 'DROP')
    }
  }

  /**
   * TCP to and from `port` between a and b is dropped, both directions, silently (no reset):
   * their connections on that port look open and carry nothing; everything else flows.
   */
  blackHoleTcp(a: number, b: number, port: number): void {
    for (const [x, y] of [[a, b], [b, a]] as const) {
      for (const side of ['--dport', '--sport']) {
        iptables(this.namespace(x), '-I', 'INPUT', '-s', this.address(y), '-p', 'tcp', side, String(port), '-j', 'DROP')
        iptables(this.namespace(x), '-I', 'OUTPUT', '-d', this.address(y), '-p', 'tcp', side, String(port), '-j', 'DROP')
      }
    }
  }

  /** `from` can no longer send to `to`; the other direction still flows. */
  oneWay(from: number, to: number): void { iptables(this.namespace(from), '-I', 'OUTPUT', '-d', this.address(to), '-j', 'DROP') }

  /** Host i loses its link (its peers see no carrier); the test cannot reach it either. */
  isolate(i: number): void { ip('-n', `${this.prefix}-sw`, 'link', 'set', `p${i}`, 'down') }

  /** Random loss of `percent` % on everything host `i` sends to and receives from other hosts. */
  loss(i: number, percent: number): void {
    // faultnet's `loss` matches the whole interface, the control link's traffic too: this one
    // leaves the test's admin requests alone so that only hub-to-hub packets are lost.
    const p = String(percent / 100)
    const ns = this.namespace(i)
    iptables(ns, '-I', 'OUTPUT', '-o', 'eth0', '!', '-d', this.#control, '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP')
    iptables(ns, '-I', 'INPUT', '-i', 'eth0', '!', '-s', this.#control, '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP')
  }

  /** Removes every fault: iptables rules flushed, links up. */
  heal(): void {
    for (let i = 1; i <= this.hosts; i++) {
      iptables(this.namespace(i), '-F')
      ip('-n', `${this.prefix}-sw`, 'link', 'set', `p${i}`, 'up')
    }
  }

  /** Deletes every namespace and link (processes inside must be gone first). */
  down(): void {
    try { ip('link', 'del', this.#controlLink) } catch { /* not there */ }
    for (let i = 1; i <= this.hosts; i++) {
      try { ip('netns', 'del', this.namespace(i)) } catch { /* not there */ }
    }
    try { ip('netns', 'del', `${this.prefix}-sw`) } catch { /* not there */ }
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function iptables(ns: string, ...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'iptables', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
}

import type { MemberTable } from './member-table.js'
import type { PushPullMember, PushPullMessage } from './messages.js'

/** This hub's whole member table as a push-pull message (memberlist `sendLocalState`). */
export function localState(table: MemberTable, join: boolean): PushPullMessage {
  const members: PushPullMember[] = table.all().map((m) => ({ id: m.id, incarnation: m.incarnation, state: m.state, addresses: m.addresses, meta: m.meta }))
  return { type: 'push-pull', join, members }
}

/**
 * Applies a remote member table through the same handlers as gossip (memberlist `mergeState`),
 * so the precedence rule judges every entry.
 */
export function mergeState(table: MemberTable, members: readonly PushPullMember[]): void {
  const self = table.self.id
  for (const m of members) {
    switch (m.state) {
      case 'alive': table.applyAlive({ type: 'alive', incarnation: m.incarnation, node: m.id, addresses: m.addresses, meta: m.meta }); break
      case 'left': table.applyDead({ type: 'dead', incarnation: m.incarnation, node: m.id, from: m.id }); break
      // A remote "dead" is only a suspicion here: the member gets its chance to refute.
      case 'dead':
      case 'suspect': table.applySuspect({ type: 'suspect', incarnation: m.incarnation, node: m.id, from: self }); break
    }
  }
}

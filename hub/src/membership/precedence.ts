import type { MemberVersion } from './member.js'

/**
 * The one precedence rule (STYLE §5): whether news about a member (`update`, from an alive,
 * suspect or dead message, or one entry of a push-pull state) changes what this hub holds about
 * it (`current`, `undefined` when the member is unknown). Nothing else in membership compares
 * incarnations or states.
 *
 * Derived from memberlist `state.go` (`aliveNode`, `suspectNode`, `deadNode`):
 * - alive: `a.Incarnation <= state.Incarnation` → bail; a node not in `nodeMap` is created
 *   first, so an unknown member is always taken. Any state, dead and left included, yields to
 *   a strictly newer alive: that is how a restarted or refuting member comes back.
 * - suspect: unknown → ignore; `s.Incarnation < state.Incarnation` → ignore; a running
 *   suspicion timer → `Confirm(from)` instead of applying (Lifeguard LHA-Suspicion);
 *   `state.State != StateAlive` → ignore. So suspect takes an alive member at an equal or newer
 *   incarnation, and never revives a dead or left one.
 * - dead / left (a `dead` message with `From == Node`): unknown → ignore;
 *   `d.Incarnation < state.Incarnation` → ignore; `state.DeadOrLeft()` → ignore. So dead and
 *   left take an alive or suspect member at an equal or newer incarnation, and a member that is
 *   already dead or left stays as it is: a left member stays left against a later dead.
 *   Second deliberate difference (**): a dead member takes a left at an equal or newer
 *   incarnation, as serf's leave intent moves a failed member to left. A hub that declared a
 *   member dead before its graceful leave reached it then counts it as left too; and an
 *   operator can forget a crashed hub (`MemberTable.forget`) so the survivors stop waiting for it.
 *
 * The table (`older`/`equal`/`newer` = update incarnation vs current):
 *
 * | current      | alive        | suspect               | dead         | left         |
 * |--------------|--------------|-----------------------|--------------|--------------|
 * | unknown      | apply        | ignore                | ignore       | ignore       |
 * | any, older   | ignore       | ignore                | ignore       | ignore       |
 * | alive, equal | ignore       | apply                 | apply        | apply        |
 * | alive, newer | apply        | apply                 | apply        | apply        |
 * | suspect, eq. | ignore       | confirm               | apply        | apply        |
 * | suspect, new | apply        | apply (*)             | apply        | apply        |
 * | dead, equal  | ignore       | ignore                | ignore       | apply (**)   |
 * | dead, newer  | apply        | ignore                | ignore       | apply (**)   |
 * | left, equal  | ignore       | ignore                | ignore       | ignore       |
 * | left, newer  | apply        | ignore                | ignore       | ignore       |
 *
 * (*) One deliberate difference: memberlist treats a suspect at a *newer* incarnation for a
 * member it already suspects as one more confirmation of the old suspicion (its timer keeps the
 * old incarnation). Here it is applied: the member must have refuted with an alive we missed
 * and been suspected again, so we end where we would be had that alive arrived, and the
 * handler starts a fresh suspicion; late confirmations of the old one are then stale.
 *
 * About ourselves the handler reads the verdict differently (memberlist's `refute`): `apply` of
 * a suspect/dead/left means "refute with a higher incarnation" (unless we are leaving), and an
 * alive about us at an equal incarnation with other metadata is refuted too; that is not this
 * rule's business.
 */
export type Verdict =
  /** Replace the current state and incarnation with the update's, then re-broadcast it. */
  | 'apply'
  /** Same suspicion heard again: count `from` as a Lifeguard confirmation; state unchanged. */
  | 'confirm'
  /** Stale or irrelevant: drop it (and do not re-broadcast). */
  | 'ignore'

export function judge(current: MemberVersion | undefined, update: MemberVersion): Verdict {
  if (current === undefined) return update.state === 'alive' ? 'apply' : 'ignore'
  const delta = Math.sign(update.incarnation - current.incarnation)
  if (delta < 0) return 'ignore'
  if (update.state === 'alive') return delta > 0 ? 'apply' : 'ignore'
  // suspect, dead or left from here on: they never revive a member that is gone; a dead one may
  // be counted as left (**).
  if (current.state === 'dead' && update.state === 'left') return 'apply'
  if (current.state === 'dead' || current.state === 'left') return 'ignore'
  if (update.state === 'suspect' && current.state === 'suspect' && delta === 0) return 'confirm'
  return 'apply'
}

/** `judge(current, update) === 'apply'`: the update changes the member table. */
export function shouldApply(current: MemberVersion | undefined, update: MemberVersion): boolean {
  return judge(current, update) === 'apply'
}

/**
 * Whether an alive message that `judge` applies may move `current` to another gossip address
 * (memberlist `aliveNode`'s address check). Only a member that left, or has been dead for at
 * least `reclaimMs` (> 0), can be reclaimed from elsewhere; otherwise two processes claim one
 * id, and the one the ring already holds keeps it (the claim is dropped and counted) so views
 * do not flap between them.
 */
/** `nowMs` and `stateChangeMs` are monotonic (`clock.monotonicMs()`). */
export function mayMoveAddress(current: { state: MemberVersion['state'], stateChangeMs: number }, nowMs: number, reclaimMs: number): boolean {
  if (current.state === 'left') return true
  return current.state === 'dead' && reclaimMs > 0 && nowMs - current.stateChangeMs >= reclaimMs
}

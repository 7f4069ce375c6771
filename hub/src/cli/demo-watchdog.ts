/**
 * Loaded with `node --import` into every process `ringhub demo` starts. The demo gives each child
 * an IPC channel and nothing else on it; the channel closes when the demo ends, however it ends
 * (Ctrl-C, SIGTERM, `kill -9`, a crash). A child then stops itself with SIGTERM: a hub leaves the
 * ring gracefully, the fleet simulator ends. So the demo never leaves orphans behind, and its
 * children run in their own process groups (a terminal's Ctrl-C reaches the demo alone, which
 * stops the fleet first and then the hubs).
 */
if (process.channel) {
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'))
  // The 'disconnect' listener refs the channel; without this unref a child whose work is done
  // (a hub after its graceful stop) would wait for the demo to close the channel.
  process.channel.unref()
}

export {}

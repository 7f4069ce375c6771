// The simulator lives in hub/src/membership/sim so the ring benchmark can run it from hub/dist.
export { ProcessClock, RingSim, type RingSimOptions, type Traffic, type Transition } from '../../hub/src/membership/sim/ring-sim.js'

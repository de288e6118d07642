//! The core thread's one clock: the router reads it once per job and hands
//! the time to the service (`Service::set_now`) and to the relay and chat
//! (docs/architecture.md, "One exit"). Nothing under `pubsub/` reads a
//! clock, so core tests drive time themselves.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The time of one job: wall-clock milliseconds (stored timestamps, ack
/// deadlines) and the monotonic instant (rate limits, rejoin timers).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub ms: u64,
    pub instant: Instant,
}

/// Reads both clocks.
pub fn now() -> Now {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Now {
        ms,
        instant: Instant::now(),
    }
}

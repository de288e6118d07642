//! Reconnect delays: 1 s doubling to 60 s, back to 1 s once a connection
//! has stayed healthy for a while (so a flapping server is not hammered,
//! and a long-lived link that drops reconnects at once).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    healthy_after: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(
            Duration::from_secs(1),
            Duration::from_secs(60),
            Duration::from_secs(30),
        )
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, healthy_after: Duration) -> Self {
        Self {
            initial,
            max,
            healthy_after,
            next: initial,
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Reports how long the last connection lasted; a healthy one resets.
    pub fn connection_lasted(&mut self, uptime: Duration) {
        if uptime >= self.healthy_after {
            self.next = self.initial;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..9).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn healthy_connection_resets_short_one_does_not() {
        let mut b = Backoff::default();
        b.next_delay();
        b.next_delay();
        b.connection_lasted(Duration::from_secs(5));
        assert_eq!(b.next_delay().as_secs(), 4);
        b.connection_lasted(Duration::from_secs(31));
        assert_eq!(b.next_delay().as_secs(), 1);
    }
}

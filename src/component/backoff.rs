//! Reconnect delays: 100 ms doubling to a 1 s cap, each drawn at random
//! from the upper half of its step (jitter, so several links or several
//! Heralds do not reconnect in lockstep). The delay goes back to the start
//! as soon as a connection is confirmed working (handshake done and a
//! confirmation ping answered), so a link that drops after doing real work
//! reconnects at once however often it dropped before; only attempts that
//! never get that far climb to the cap. The cap is low because a refused
//! connect costs ejabberd nothing, while every second of delay is a second
//! of outage after ejabberd is back.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    rng: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(1))
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self::with_seed(initial, max, seed)
    }

    /// A reproducible sequence of jittered delays (tests).
    pub fn with_seed(initial: Duration, max: Duration, seed: u64) -> Self {
        Self {
            initial,
            max: max.max(initial),
            next: initial,
            rng: seed | 1,
        }
    }

    /// The delay before the next attempt, between half and all of the
    /// current step; each call doubles the step up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = step / 2;
        let spread = (step - half).as_micros() as u64;
        half + Duration::from_micros(self.random() % (spread + 1))
    }

    /// The connection just proved it works: the next drop reconnects fast.
    pub fn confirmed(&mut self) {
        self.next = self.initial;
    }

    /// xorshift64: plenty for jitter, no dependency.
    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(seed: u64) -> Backoff {
        Backoff::with_seed(Duration::from_millis(100), Duration::from_secs(1), seed)
    }

    #[test]
    fn steps_double_up_to_the_cap_with_jitter_in_the_upper_half() {
        for seed in 0..50 {
            let mut b = backoff(seed);
            let steps = [100, 200, 400, 800, 1000, 1000, 1000];
            for step in steps {
                let d = b.next_delay().as_millis() as u64;
                assert!(
                    d >= step / 2 && d <= step,
                    "seed {seed}: {d} ms for step {step}"
                );
            }
        }
    }

    #[test]
    fn jitter_differs_between_sequences() {
        let first: Vec<Duration> = (0..5).map(|_| backoff(1).next_delay()).collect();
        let mut a = backoff(1);
        let mut b = backoff(2);
        let a: Vec<Duration> = (0..5).map(|_| a.next_delay()).collect();
        let b: Vec<Duration> = (0..5).map(|_| b.next_delay()).collect();
        assert_ne!(a, b);
        assert!(
            first.iter().all(|d| *d == first[0]),
            "same seed, same first delay"
        );
    }

    #[test]
    fn a_confirmed_connection_resets_to_the_first_step() {
        let mut b = backoff(7);
        for _ in 0..6 {
            b.next_delay();
        }
        assert!(b.next_delay() >= Duration::from_millis(500));
        b.confirmed();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn five_drops_of_a_working_link_cost_well_under_a_second() {
        let mut b = backoff(3);
        let mut total = Duration::ZERO;
        for _ in 0..5 {
            b.confirmed();
            total += b.next_delay();
        }
        assert!(total <= Duration::from_millis(500), "{total:?}");
    }
}

//! When a failed delivery is tried again.
//!
//! A list of delays (default about a day: 5 s, 5 min, 30 min, 2 h, 5 h,
//! 10 h, 10 h), each spread by ±20% jitter so endpoints that failed together
//! do not retry together. An endpoint's `Retry-After` replaces the delay,
//! capped so a hostile or confused endpoint cannot park a delivery forever.
//! After the last delay the delivery is dead-lettered.

use std::time::Duration;

/// The default delays between attempts (the first attempt is immediate).
pub const DEFAULT_DELAYS_MS: [u64; 7] = [
    5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
/// The default cap on a `Retry-After` delay (one hour).
pub const DEFAULT_RETRY_AFTER_CAP_MS: u64 = 3_600_000;
/// Jitter as a fraction of each delay, in percent.
const JITTER_PERCENT: u64 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Delay before attempt n+2 (attempt 1 is immediate).
    pub delays_ms: Vec<u64>,
    pub retry_after_cap_ms: u64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            delays_ms: DEFAULT_DELAYS_MS.to_vec(),
            retry_after_cap_ms: DEFAULT_RETRY_AFTER_CAP_MS,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    RetryIn(Duration),
    /// The schedule is exhausted: move the delivery to the dead letters.
    DeadLetter,
}

impl RetrySchedule {
    /// After failed attempt number `attempt` (1-based), with the endpoint's
    /// `Retry-After` if it sent one, and `random` any uniformly random
    /// number (the jitter's source, passed in so tests are exact).
    pub fn after_failure(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        random: u64,
    ) -> NextStep {
        let index = attempt.saturating_sub(1) as usize;
        let Some(&base_ms) = self.delays_ms.get(index) else {
            return NextStep::DeadLetter;
        };
        if let Some(asked) = retry_after {
            let capped = asked.min(Duration::from_millis(self.retry_after_cap_ms));
            return NextStep::RetryIn(capped);
        }
        NextStep::RetryIn(Duration::from_millis(jittered(base_ms, random)))
    }
}

/// `base` moved uniformly within ±20%.
fn jittered(base_ms: u64, random: u64) -> u64 {
    let spread = base_ms * JITTER_PERCENT / 100;
    if spread == 0 {
        return base_ms;
    }
    let offset = random % (2 * spread + 1);
    base_ms - spread + offset
}

/// Reads a `Retry-After` header: delay-seconds, or an HTTP date relative to
/// `now_s` (seconds since the epoch). A date in the past means now.
pub fn parse_retry_after(value: &str, now_s: u64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate_to_epoch(value)?;
    Some(Duration::from_secs(at.saturating_sub(now_s)))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires
/// senders to use; the obsolete forms are not accepted (no retry-after then).
fn httpdate_to_epoch(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    let days = days_from_civil(year, month, day)?;
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

/// Days since 1970-01-01 (Howard Hinnant's civil-date algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_spans_about_a_day() {
        let total: u64 = DEFAULT_DELAYS_MS.iter().sum();
        assert!(
            (24 * 3_600_000..=30 * 3_600_000).contains(&total),
            "{total}"
        );
    }

    #[test]
    fn delays_stay_within_twenty_percent() {
        let s = RetrySchedule::default();
        for random in [0, 1, 999, u64::MAX / 3, u64::MAX] {
            let NextStep::RetryIn(d) = s.after_failure(1, None, random) else {
                panic!("retries")
            };
            assert!((4_000..=6_000).contains(&(d.as_millis() as u64)), "{d:?}");
        }
        assert_eq!(
            s.after_failure(1, None, 0),
            NextStep::RetryIn(Duration::from_millis(4_000))
        );
        assert_eq!(
            s.after_failure(1, None, 2_000),
            NextStep::RetryIn(Duration::from_millis(6_000))
        );
    }

    #[test]
    fn exhausted_schedule_dead_letters() {
        let s = RetrySchedule {
            delays_ms: vec![10, 20],
            retry_after_cap_ms: 1_000,
        };
        assert!(matches!(s.after_failure(2, None, 0), NextStep::RetryIn(_)));
        assert_eq!(s.after_failure(3, None, 0), NextStep::DeadLetter);
        assert_eq!(
            s.after_failure(3, Some(Duration::from_secs(1)), 0),
            NextStep::DeadLetter
        );
    }

    #[test]
    fn retry_after_replaces_the_delay_and_is_capped() {
        let s = RetrySchedule {
            delays_ms: vec![10],
            retry_after_cap_ms: 5_000,
        };
        assert_eq!(
            s.after_failure(1, Some(Duration::from_secs(2)), 7),
            NextStep::RetryIn(Duration::from_secs(2))
        );
        assert_eq!(
            s.after_failure(1, Some(Duration::from_secs(3_600)), 7),
            NextStep::RetryIn(Duration::from_secs(5))
        );
    }

    #[test]
    fn parses_retry_after_seconds_and_dates() {
        assert_eq!(
            parse_retry_after(" 120 ", 0),
            Some(Duration::from_secs(120))
        );
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            parse_retry_after(date, 784_111_770),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after(date, 784_111_800), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 0), None);
    }
}

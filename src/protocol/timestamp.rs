//! XEP-0082 date-time strings from milliseconds since the Unix epoch
//! (for XEP-0203 delay stamps and `pubsub#creation_date`), without a
//! calendar crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, 0 if the clock is before it.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `YYYY-MM-DDThh:mm:ss.sssZ` (UTC).
pub fn xep0082(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Parses a XEP-0082 DateTime (`CCYY-MM-DDThh:mm:ss[.sss](Z|±hh:mm)`)
/// into ms since the Unix epoch; `None` if malformed or before 1970.
pub fn parse_xep0082(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.len() < 20 || seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let (ms, rest) = fraction(&s[19..])?;
    let offset_secs = zone(rest)?;
    let days = days_from_civil(y, mo, d)?;
    let secs = (days * 86_400 + h * 3600 + mi * 60 + sec) as i64 - offset_secs;
    u64::try_from(secs).ok().map(|s| s * 1000 + ms)
}

/// `.sss…` (any number of digits, kept to ms) and what follows it.
fn fraction(s: &str) -> Option<(u64, &str)> {
    let Some(rest) = s.strip_prefix('.') else {
        return Some((0, s));
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let ms = format!("{:0<3}", &rest[..digits.min(3)]).parse().ok()?;
    Some((ms, &rest[digits..]))
}

/// `Z` or `±hh:mm` as seconds east of UTC.
fn zone(s: &str) -> Option<i64> {
    if s == "Z" {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s[1..].split_once(':')?;
    let valid = h.len() == 2 && m.len() == 2;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (valid && h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's
/// `days_from_civil`), `None` before 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_formats_and_zones() {
        for ms in [0, 1_071_359_917_000, 1_709_210_096_789, 1_700_000_000_001] {
            assert_eq!(parse_xep0082(&xep0082(ms)), Some(ms));
        }
        assert_eq!(
            parse_xep0082("2003-12-13T23:58:37Z"),
            Some(1_071_359_917_000)
        );
        assert_eq!(
            parse_xep0082("2003-12-13T18:58:37-05:00"),
            Some(1_071_359_917_000)
        );
        assert_eq!(
            parse_xep0082("2003-12-13T23:58:37.5Z"),
            Some(1_071_359_917_500)
        );
        assert_eq!(
            parse_xep0082("2003-12-13T23:58:37.123456Z"),
            Some(1_071_359_917_123)
        );
        for bad in [
            "",
            "2003-12-13",
            "2003-12-13T23:58:37",
            "2003-13-13T23:58:37Z",
            "2003-12-13T23:58:37.Z",
            "2003-12-13T23:58:37+5:00",
            "1969-12-31T23:59:59Z",
            "2003-12-13X23:58:37Z",
        ] {
            assert_eq!(parse_xep0082(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(xep0082(0), "1970-01-01T00:00:00.000Z");
        // XEP-0060 Example 50's stamp, 2003-12-13T23:58:37Z.
        assert_eq!(xep0082(1_071_359_917_000), "2003-12-13T23:58:37.000Z");
        // A leap day.
        assert_eq!(xep0082(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
    }
}

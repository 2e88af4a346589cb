//! Wall-clock helpers: local calendar time for run-directory names and Unix seconds for events.

use std::time::{SystemTime, UNIX_EPOCH};

/// A local calendar time to the second, as run-directory names show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime {
    /// Full year, e.g. 2026.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// Day of month 1–31.
    pub day: u32,
    /// Hour 0–23.
    pub hour: u32,
    /// Minute 0–59.
    pub minute: u32,
    /// Second 0–60 (60 only on a leap second).
    pub second: u32,
}

impl LocalTime {
    /// The local time of a Unix timestamp, through the C library's `localtime_r` (honours `TZ`).
    ///
    /// Falls back to UTC if the C library cannot convert the timestamp.
    pub fn from_unix(unix_s: i64) -> Self {
        let t: libc::time_t = unix_s as libc::time_t;
        // SAFETY: `tm` is a plain C struct for which all-zero bytes are a valid value, and
        // `localtime_r` only writes into the buffer we pass; it is the thread-safe variant.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let converted = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        if !converted {
            return Self::utc_from_unix(unix_s);
        }
        Self {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
        }
    }

    /// The local time now.
    pub fn now() -> Self {
        Self::from_unix(unix_now_s().floor() as i64)
    }

    /// UTC calendar time of a Unix timestamp (Howard Hinnant's days-to-civil algorithm).
    fn utc_from_unix(unix_s: i64) -> Self {
        let days = unix_s.div_euclid(86_400);
        let secs = unix_s.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Self {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }

    /// `YYYYmmdd-HHMMSS`, the prefix of a run directory's name; sorts chronologically as text.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Parses the `YYYYmmdd-HHMMSS` prefix of a run directory's name; `None` if it has none.
    pub fn parse_compact(name: &str) -> Option<Self> {
        let bytes = name.as_bytes();
        if bytes.len() < 15 || bytes[8] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let s = name.get(range)?;
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let parsed = Self {
            year: digits(0..4)? as i32,
            month: digits(4..6)?,
            day: digits(6..8)?,
            hour: digits(9..11)?,
            minute: digits(11..13)?,
            second: digits(13..15)?,
        };
        let plausible = (1..=12).contains(&parsed.month)
            && (1..=31).contains(&parsed.day)
            && parsed.hour < 24
            && parsed.minute < 60
            && parsed.second <= 60;
        plausible.then_some(parsed)
    }

    /// `YYYY-mm-dd HH:MM:SS`, for display in listings.
    pub fn display(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Seconds since the Unix epoch now, with sub-second precision (0.0 if the clock is before 1970).
pub fn unix_now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_conversion_matches_known_dates() {
        // 2026-11-29 01:55:19 UTC
        let t = LocalTime::utc_from_unix(1_795_917_319);
        assert_eq!(t.compact(), "20261129-015519");
        assert_eq!(LocalTime::utc_from_unix(0).compact(), "19700101-000000");
        // 2000-02-29 23:59:59, a leap day
        assert_eq!(
            LocalTime::utc_from_unix(951_868_799).compact(),
            "20000229-235959"
        );
    }

    #[test]
    fn compact_round_trips_and_rejects_junk() {
        let t = LocalTime::utc_from_unix(1_795_917_319);
        let parsed = LocalTime::parse_compact(&format!("{}-mnist-cnn", t.compact()));
        assert_eq!(parsed, Some(t));
        assert_eq!(LocalTime::parse_compact("mnist-cnn"), None);
        assert_eq!(LocalTime::parse_compact("20261399-015519-x"), None);
        assert_eq!(LocalTime::parse_compact("2026112x-015519"), None);
    }

    #[test]
    fn local_time_is_a_plausible_calendar_time() {
        let now = LocalTime::now();
        assert!(now.year >= 2024, "{now:?}");
        assert!((1..=12).contains(&now.month) && now.hour < 24, "{now:?}");
    }
}

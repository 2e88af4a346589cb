//! Wall-clock helpers: local calendar time for run-directory names and Unix seconds for events.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

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
    /// The local time (honouring `TZ`, else the system's zone, else UTC) of a Unix timestamp.
    pub fn from_unix(unix_s: i64) -> Self {
        Self::in_zone(unix_s, &TimeZone::system())
    }

    /// The time now, local.
    pub fn now() -> Self {
        Self::from_unix(unix_now_s().floor() as i64)
    }

    /// The calendar time of a Unix timestamp in `zone`.
    fn in_zone(unix_s: i64, zone: &TimeZone) -> Self {
        let datetime = Timestamp::from_second(unix_s)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(zone.clone())
            .datetime();
        Self::from_datetime(datetime)
    }

    fn from_datetime(d: DateTime) -> Self {
        // jiff's fields are small signed integers within their calendar ranges.
        let field = |v: i8| v.max(0) as u32;
        Self {
            year: i32::from(d.year()),
            month: field(d.month()),
            day: field(d.day()),
            hour: field(d.hour()),
            minute: field(d.minute()),
            second: field(d.second()),
        }
    }

    /// `YYYYmmdd-HHMMSS`, the prefix of run-directory names (sorts in time order).
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Reads the `YYYYmmdd-HHMMSS` prefix of a run-directory name; `None` unless it is a real
    /// calendar time.
    pub fn parse_compact(name: &str) -> Option<Self> {
        let prefix = name.get(..15)?;
        if !prefix.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return None;
        }
        DateTime::strptime("%Y%m%d-%H%M%S", prefix)
            .ok()
            .map(Self::from_datetime)
    }

    /// `YYYY-mm-dd HH:MM:SS`, for the Runs tab.
    pub fn display(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `HH:MM`, for the dashboard's clock.
    pub fn hours_minutes(&self) -> String {
        format!("{:02}:{:02}", self.hour, self.minute)
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
        let t = LocalTime::in_zone(1_795_917_319, &TimeZone::UTC);
        assert_eq!(t.compact(), "20261129-015519");
        assert_eq!(
            LocalTime::in_zone(0, &TimeZone::UTC).compact(),
            "19700101-000000"
        );
        // 2000-02-29 23:59:59, a leap day
        assert_eq!(
            LocalTime::in_zone(951_868_799, &TimeZone::UTC).compact(),
            "20000229-235959"
        );
    }

    #[test]
    fn compact_round_trips_and_rejects_junk() {
        let t = LocalTime::in_zone(1_795_917_319, &TimeZone::UTC);
        let parsed = LocalTime::parse_compact(&format!("{}-mnist-cnn", t.compact()));
        assert_eq!(parsed, Some(t));
        assert_eq!(LocalTime::parse_compact("mnist-cnn"), None);
        assert_eq!(LocalTime::parse_compact("20261399-015519-x"), None);
        assert_eq!(LocalTime::parse_compact("2026112x-015519"), None);
        assert_eq!(
            LocalTime::parse_compact("20260230-015519-x"),
            None,
            "no 30 February"
        );
    }

    #[test]
    fn local_time_is_a_plausible_calendar_time() {
        let now = LocalTime::now();
        assert!(now.year >= 2024, "{now:?}");
        assert!((1..=12).contains(&now.month) && now.hour < 24, "{now:?}");
    }
}

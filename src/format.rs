//! How numbers and durations read on screen and in progress lines, the same everywhere.

/// Formats seconds as `1h02m`, `3m07s` or `42s`.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `4812` → `4,812`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(42.4), "42s");
        assert_eq!(format_duration(187.0), "3m07s");
        assert_eq!(format_duration(3720.0), "1h02m");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(4812), "4,812");
        assert_eq!(thousands(21_400), "21,400");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}

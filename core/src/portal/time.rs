//! Times as the portal shows and reads them: UTC, `YYYY-MM-DD HH:MM:SS`.

use chrono::{DateTime, NaiveDateTime};

/// `ms` since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn format_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || "(out of range)".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// `YYYY-MM-DDTHH:MM` (what `<input type="datetime-local">` sends, optionally with `:SS`),
/// read as UTC, in ms since the epoch; years from 1970 to 9999 only.
pub(crate) fn parse_utc(text: &str) -> Option<i64> {
    let text = text.trim();
    let at = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?;
    let ms = at.and_utc().timestamp_millis();
    (0..=253_402_300_799_999).contains(&ms).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_and_parse_as_utc() {
        // 2026-11-30 02:39:09 UTC, checked with `date -u -d @1796006349`.
        assert_eq!(format_ms(1_796_006_349_123), "2026-11-30 02:39:09");
        assert_eq!(format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(parse_utc("2026-11-30T02:39"), Some(1_796_006_340_000));
        assert_eq!(parse_utc("2024-02-29 23:59:59"), Some(1_709_251_199_000));
        for ms in [0, 951_782_400_000, 1_709_251_199_000, 4_102_444_800_000] {
            assert_eq!(parse_utc(&format_ms(ms)), Some(ms), "{ms}");
        }
        for bad in [
            "",
            "2026-13-01T00:00",
            "2025-02-29T00:00",
            "2026-01-01",
            "x-1-1T1:1",
            "2026-01-01T24:00",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}

//! Times as the portal shows and reads them: UTC, `YYYY-MM-DD HH:MM:SS`, converted with
//! Howard Hinnant's civil-date algorithms (no calendar crate for two small functions).

/// `ms` since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `YYYY-MM-DDTHH:MM` (what `<input type="datetime-local">` sends, optionally with `:SS`),
/// read as UTC, in ms since the epoch.
pub(crate) fn parse_utc(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once(['T', ' '])?;
    let mut date = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, d) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let mut time = time.splitn(3, ':').map(str::parse::<i64>);
    let (h, min) = (time.next()?.ok()?, time.next()?.ok()?);
    let s = time.next().transpose().ok()?.unwrap_or(0);
    let valid = (1..=12).contains(&m)
        && (1..=days_in_month(y, m)).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&min)
        && (0..60).contains(&s)
        && (1970..=9999).contains(&y);
    valid.then(|| ((days_from_civil(y, m, d) * 24 + h) * 60 + min) * 60_000 + s * 1000)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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

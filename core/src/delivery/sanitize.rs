//! What a receiver sends is stored in the attempt log (the body's first bytes, errors that may
//! quote its status line or headers). PostgreSQL refuses a NUL in TEXT and in JSONB, so one
//! hostile byte would fail the transaction that records a whole batch of attempts.

/// `bytes` as text any backend stores, at most `limit` bytes long: invalid UTF-8 and control
/// characters other than `\n`, `\r` and `\t` become U+FFFD, and the end is cut on a character
/// boundary.
pub(crate) fn storable(bytes: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut stored = String::with_capacity(text.len().min(limit));
    for c in text.chars() {
        let c = if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
            char::REPLACEMENT_CHARACTER
        } else {
            c
        };
        if stored.len() + c.len_utf8() > limit {
            break;
        }
        stored.push(c);
    }
    stored
}

/// The longest error stored for an attempt: reqwest's messages may quote what the receiver
/// sent (a bad status line, a header).
pub(crate) const ERROR_LIMIT: usize = 2048;

/// The first bytes of a response body, for the attempt log: what arrives by `deadline`.
pub(crate) async fn excerpt(
    mut response: reqwest::Response,
    deadline: tokio::time::Instant,
) -> Option<String> {
    const LIMIT: usize = 1024;
    let mut bytes = Vec::new();
    while bytes.len() < LIMIT {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(LIMIT);
    (!bytes.is_empty()).then(|| storable(&bytes, LIMIT))
}

pub(crate) fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "connection failed"
    } else if error.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let mut message = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::storable;

    #[test]
    fn control_characters_and_bad_utf8_are_replaced() {
        assert_eq!(storable(b"ok\0bye", 100), "ok\u{FFFD}bye");
        assert_eq!(storable(b"a\x1b[31mb\x7f", 100), "a\u{FFFD}[31mb\u{FFFD}");
        // C1 controls are controls too.
        assert_eq!(storable("x\u{85}y".as_bytes(), 100), "x\u{FFFD}y");
        assert_eq!(storable(b"line\r\n\tnext", 100), "line\r\n\tnext");
        assert_eq!(storable(b"\xff\xfeok", 100), "\u{FFFD}\u{FFFD}ok");
        assert_eq!(storable("é ✓".as_bytes(), 100), "é ✓");
        assert_eq!(storable(b"", 100), "");
    }

    #[test]
    fn the_length_is_bounded_on_a_character_boundary() {
        assert_eq!(storable(b"abcdef", 4), "abcd");
        // "é" is two bytes: a limit in its middle stops before it.
        assert_eq!(storable("aé".as_bytes(), 2), "a");
        // A replacement character is three bytes and counts as such.
        assert_eq!(storable(b"a\0", 3), "a");
        assert_eq!(storable(b"a\0", 4), "a\u{FFFD}");
        assert_eq!(storable(&[b'x'; 5000], 1024).len(), 1024);
        assert_eq!(storable(b"abc", 0), "");
    }
}

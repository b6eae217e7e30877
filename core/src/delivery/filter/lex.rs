//! The filter language's tokens: punctuation, keywords, strings, numbers and paths.

use serde_json::{Number, Value};

use super::{FilterError, Operand};

/// Punctuation and the keywords `and`/`or` (lower-cased) are `Punct`; everything else an operand.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
    Punct(&'static str),
    Operand(Operand),
}

/// The tokens of `chars`, each with its character offset.
pub(super) fn tokenize(chars: &[char]) -> Result<Vec<(usize, Token)>, FilterError> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        let (token, end) = match (c, chars.get(at + 1).copied()) {
            _ if c.is_whitespace() => {
                at += 1;
                continue;
            }
            ('=', Some('=')) => bail!(at, "unknown operator `==` (hint: use `=`)"),
            ('!', Some('=')) => (Token::Punct("!="), at + 2),
            ('=', _) => (Token::Punct("="), at + 1),
            ('(', _) => (Token::Punct("("), at + 1),
            (')', _) => (Token::Punct(")"), at + 1),
            ('!', _) => bail!(at, "unknown operator `!` (hint: use `!=`)"),
            ('<', Some('>')) => bail!(at, "unknown operator `<>` (hint: use `!=`)"),
            ('&', Some('&')) => bail!(at, "unknown operator `&&` (hint: use `and`)"),
            ('|', Some('|')) => bail!(at, "unknown operator `||` (hint: use `or`)"),
            ('<' | '>', _) => bail!(at, "unknown operator `{c}` (only `=` and `!=` exist)"),
            ('"' | '\'', _) => scan_string(chars, at, c)?,
            ('-' | '0'..='9', _) => scan_number(chars, at)?,
            _ if is_ident_start(c) => scan_path(chars, at)?,
            _ => bail!(
                at,
                "unexpected character `{c}`: expected a path, value or `(`"
            ),
        };
        tokens.push((at, token));
        at = end;
    }
    Ok(tokens)
}

/// Scans the string opening with `quote` at `at`; returns it and the offset just past it.
fn scan_string(chars: &[char], at: usize, quote: char) -> Result<(Token, usize), FilterError> {
    let mut text = String::new();
    let mut i = at + 1;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if c == quote {
            return Ok((literal(Value::String(text)), i));
        } else if c != '\\' {
            text.push(c);
            continue;
        }
        text.push(match chars.get(i) {
            Some(&escaped @ ('"' | '\'' | '\\')) => escaped,
            Some('n') => '\n',
            Some('t') => '\t',
            Some(c) => bail!(i - 1, r#"unknown escape `\{c}` (use \" \' \\ \n or \t)"#),
            None => break,
        });
        i += 1;
    }
    bail!(at, "unterminated string: missing closing `{quote}`")
}

fn scan_number(chars: &[char], at: usize) -> Result<(Token, usize), FilterError> {
    // Take the whole run of number-like characters, so that `1x` or `1.2.3` is reported as one
    // bad number rather than split into confusing tokens.
    let mut end = at + 1;
    while let Some(&c) = chars.get(end) {
        let exponent_sign = matches!(c, '+' | '-') && matches!(chars.get(end - 1), Some('e' | 'E'));
        if !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || exponent_sign) {
            break;
        }
        end += 1;
    }
    let text = collect(chars, at, end);
    // serde_json checks the JSON number syntax; fractions are then read with Rust's correctly
    // rounded parser, since serde_json's fast one can be off by an ulp and a filter must
    // print back to the same number (found by the fuzz target).
    let number = serde_json::from_str::<Number>(&text)
        .ok()
        .and_then(|n| match n.is_f64() {
            true => text.parse::<f64>().ok().and_then(Number::from_f64),
            false => Some(n),
        });
    match number {
        Some(number) => Ok((literal(Value::Number(number)), end)),
        None => bail!(at, "bad number `{text}`: expected e.g. 42, -1.5 or 2e3"),
    }
}

fn scan_path(chars: &[char], at: usize) -> Result<(Token, usize), FilterError> {
    let mut end = at;
    while chars
        .get(end)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        end += 1;
    }
    let text = collect(chars, at, end);
    // The first segment starts with a letter or `_` (the caller checked), later ones may also be
    // array indices; all are ASCII, so byte lengths are character counts.
    let mut start = at;
    for segment in text.split('.') {
        let index = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
        if !index && !segment.starts_with(is_ident_start) {
            let found = match chars.get(start) {
                Some(_) if !segment.is_empty() => format!("`{segment}`"),
                Some(c) => format!("`{c}`"),
                None => "end of input".into(),
            };
            bail!(start, "expected a key or an index after `.`, found {found}");
        }
        start += segment.len() + 1;
    }
    let token = match text.to_ascii_lowercase().as_str() {
        "and" => Token::Punct("and"),
        "or" => Token::Punct("or"),
        "true" => literal(Value::Bool(true)),
        "false" => literal(Value::Bool(false)),
        "null" => literal(Value::Null),
        _ => Token::Operand(Operand::Path(text.split('.').map(String::from).collect())),
    };
    Ok((token, end))
}

fn literal(value: Value) -> Token {
    Token::Operand(Operand::Literal(value))
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn collect(chars: &[char], start: usize, end: usize) -> String {
    chars.get(start..end).unwrap_or_default().iter().collect()
}

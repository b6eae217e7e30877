//! Subscription filters: a small boolean language evaluated against an event's JSON payload.
//!
//! ```text
//! entity.entity_type = "Task" and (entity.operation = "create" or entity.operation = "update")
//! ```
//!
//! A path looks a value up in the payload (`items.0.name` indexes arrays) and a missing one is
//! `null`; `=` is JSON equality with numbers compared by value (`1 = 1.0`), `!=` its negation;
//! `and` binds tighter than `or`. The keywords `and`, `or`, `true`, `false` and `null` are
//! case-insensitive, so a top-level key spelled like one of them cannot be used as a path.

use std::fmt;
use std::str::FromStr;

use serde_json::{Number, Value};

/// Longest filter text accepted, in characters; the canonical text must fit too.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 64;

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    root: Expr,
}

/// Why a filter does not parse, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// 0-based character (not byte) offset of the offending token; the input length at its end.
    pub position: usize,
    /// What was expected and what was found.
    pub message: String,
}

/// Returns early with a [`FilterError`] at `position` and a formatted message.
macro_rules! bail {
    ($position:expr, $($message:tt)+) => {
        return Err(FilterError { position: $position, message: format!($($message)+) })
    };
}

mod lex;

use lex::{tokenize, Token};

/// Kept flat (no `Any` in an `Any`, no `All` in an `All`, no one-element lists), so `Display`
/// needs parentheses only around an `or` inside an `and` and printing then parsing is lossless.
#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Any(Vec<Expr>),
    All(Vec<Expr>),
    Compare(Operand, Op, Operand),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
}

#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Path(Vec<String>),
    Literal(Value),
}

impl Filter {
    /// Parses filter text such as `entity.entity_type = "Task" and entity.operation = "create"`.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let chars: Vec<char> = text.chars().take(MAX_LEN + 1).collect();
        if chars.len() > MAX_LEN {
            bail!(MAX_LEN, "filter is longer than {MAX_LEN} characters");
        }
        let tokens = tokenize(&chars)?;
        if tokens.is_empty() {
            bail!(
                chars.len(),
                "empty expression: expected a comparison like `a = 1`"
            );
        }
        let parser = Parser {
            tokens,
            next: 0,
            depth: 0,
            end: chars.len(),
        };
        let filter = Filter {
            root: parser.parse()?,
        };
        // The canonical text may be longer than the input (`a=b` prints as `a = b`); refusing
        // such filters keeps `Filter::parse(&filter.to_string())` from ever failing.
        if filter.to_string().chars().count() > MAX_LEN {
            bail!(0, "filter exceeds {MAX_LEN} characters in canonical form");
        }
        Ok(filter)
    }

    /// Whether the payload satisfies the filter.
    pub fn matches(&self, payload: &Value) -> bool {
        self.root.matches(payload)
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Filter::parse(text)
    }
}

/// Canonical text: single spaces, double-quoted strings, parentheses only where needed.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.position + 1, self.message)
    }
}

impl std::error::Error for FilterError {}

impl Expr {
    /// Recursion is bounded by the nesting limit.
    fn matches(&self, payload: &Value) -> bool {
        match self {
            Expr::Any(parts) => parts.iter().any(|part| part.matches(payload)),
            Expr::All(parts) => parts.iter().all(|part| part.matches(payload)),
            Expr::Compare(left, op, right) => {
                json_equal(left.resolve(payload), right.resolve(payload)) == (*op == Op::Eq)
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parts, separator) = match self {
            Expr::Compare(left, op, right) => return write!(f, "{left} {op} {right}"),
            Expr::Any(parts) => (parts, " or "),
            Expr::All(parts) => (parts, " and "),
        };
        for (index, part) in parts.iter().enumerate() {
            f.write_str(if index == 0 { "" } else { separator })?;
            match part {
                Expr::Any(_) => write!(f, "({part})")?, // only ever inside an `and`
                _ => write!(f, "{part}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self == Op::Eq { "=" } else { "!=" })
    }
}

impl Operand {
    fn resolve<'a>(&'a self, payload: &'a Value) -> &'a Value {
        let segments = match self {
            Operand::Literal(value) => return value,
            Operand::Path(segments) => segments,
        };
        let found = segments
            .iter()
            .try_fold(payload, |value, segment| match value {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
                _ => None,
            });
        found.unwrap_or(&Value::Null)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Operand::Path(segments) => return f.write_str(&segments.join(".")),
            Operand::Literal(Value::String(text)) => text,
            Operand::Literal(value) => return write!(f, "{value}"),
        };
        f.write_str("\"")?;
        for c in text.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                _ => fmt::Write::write_char(f, c)?,
            }
        }
        f.write_str("\"")
    }
}

/// JSON equality, except that numbers compare by value. Recursion follows the payload's depth,
/// which serde_json already limits to 128 when parsing.
fn json_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => numbers_equal(a, b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            let same = |(key, x): (&String, &Value)| b.get(key).is_some_and(|y| json_equal(x, y));
            a.len() == b.len() && a.iter().all(same)
        }
        _ => left == right,
    }
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    // Integers compare exactly: through f64, neighbours above 2^53 would look equal.
    let integer = |n: &Number| n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
    match (integer(a), integer(b), a.as_f64(), b.as_f64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    depth: usize,
    /// The input length, where errors at the end of input point.
    end: usize,
}

impl Parser {
    fn parse(mut self) -> Result<Expr, FilterError> {
        let root = self.parse_or()?;
        match self.peek() {
            None => Ok(root),
            Some(Token::Punct(")")) => bail!(self.position(), "unmatched `)`"),
            Some(_) => Err(self.unexpected("`and`, `or` or end of input")),
        }
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.parse_and()?];
        while self.eat("or") {
            parts.push(self.parse_and()?);
        }
        Ok(flatten(parts, true))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.parse_primary()?];
        while self.eat("and") {
            parts.push(self.parse_primary()?);
        }
        Ok(flatten(parts, false))
    }

    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        let open = self.position();
        if self.eat("(") {
            if self.depth == MAX_DEPTH {
                bail!(open, "parentheses nested deeper than {MAX_DEPTH}");
            }
            self.depth += 1;
            let inner = self.parse_or()?;
            if !self.eat(")") {
                let expected = format!("`)` to close the `(` at column {}", open + 1);
                return Err(self.unexpected(&expected));
            }
            self.depth -= 1;
            return Ok(inner);
        }
        let left = self.operand("a comparison such as `a = 1`, or `(`")?;
        let op = match self.peek() {
            Some(Token::Punct("=")) => Op::Eq,
            Some(Token::Punct("!=")) => Op::Ne,
            _ => return Err(self.unexpected(&format!("`=` or `!=` after `{left}`"))),
        };
        self.next += 1;
        let right = self.operand(&format!("a path or a value after `{op}`"))?;
        Ok(Expr::Compare(left, op, right))
    }

    fn operand(&mut self, expected: &str) -> Result<Operand, FilterError> {
        let Some(Token::Operand(operand)) = self.peek() else {
            return Err(self.unexpected(expected));
        };
        let operand = operand.clone();
        self.next += 1;
        Ok(operand)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(_, token)| token)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |(at, _)| *at)
    }

    fn eat(&mut self, punct: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Punct(p)) if *p == punct);
        self.next += usize::from(found);
        found
    }

    fn unexpected(&self, expected: &str) -> FilterError {
        let message = match self.peek() {
            None => format!("unexpected end of input: expected {expected}"),
            Some(Token::Punct(punct)) => format!("expected {expected}, found `{punct}`"),
            Some(Token::Operand(operand)) => format!("expected {expected}, found `{operand}`"),
        };
        FilterError {
            position: self.position(),
            message,
        }
    }
}

/// Joins the parts of an `or` (`any`) or an `and`, merging in same-kind parenthesised parts.
fn flatten(parts: Vec<Expr>, any: bool) -> Expr {
    let mut flat = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Expr::Any(inner) if any => flat.extend(inner),
            Expr::All(inner) if !any => flat.extend(inner),
            other => flat.push(other),
        }
    }
    match (flat.len(), any) {
        (1, _) => flat.remove(0),
        (_, true) => Expr::Any(flat),
        (_, false) => Expr::All(flat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Filter {
        Filter::parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    #[test]
    fn ftrack_examples() {
        let event = |kind: &str, operation: &str, new: &str, old: &str| {
            json!({"entity": {"entity_type": kind, "operation": operation,
                              "new": {"status_id": new}, "old": {"status_id": old}}})
        };
        let created = parse(r#"entity.entity_type = "Task" and entity.operation = "create""#);
        assert!(created.matches(&event("Task", "create", "a", "a")));
        assert!(!created.matches(&event("Task", "update", "a", "a")));
        assert!(!created.matches(&event("Shot", "create", "a", "a")));
        assert!(!created.matches(&json!({"entity": "Task"})));
        let status = parse(
            r#"entity.entity_type = "AssetVersion" and entity.operation = "update" and
               entity.new.status_id != entity.old.status_id and entity.new.status_id = "abc""#,
        );
        assert!(status.matches(&event("AssetVersion", "update", "abc", "def")));
        assert!(!status.matches(&event("AssetVersion", "update", "abc", "abc")));
        assert!(!status.matches(&event("AssetVersion", "update", "xyz", "def")));
        assert!(!status.matches(&event("Task", "update", "abc", "def")));
    }

    #[test]
    fn evaluation() {
        let payload = json!({
            "a": 1, "b": 1.0, "c": "x", "d": "x", "n": null, "big": u64::MAX, "neg": -2,
            "obj": {"k": [1, 2.0]}, "obj2": {"k": [1.0, 2]}, "s": "it's \"q\" \\\n\t",
            "items": [{"name": "x"}, {"tags": ["p", "q"]}], "map": {"0": "zero"}
        });
        for (text, expected) in [
            ("a = 1 or b = 2 and c = 3", true), // a = 1 or (b = 2 and c = 3)
            ("(a = 1 or b = 2) and c = 3", false),
            ("a = 2 or c = 'x' and d = 'x'", true),
            ("a = 2 or c = 'x' and d = 'y'", false),
            ("a != 2", true),
            ("a != 1", false),
            ("c = d", true),
            ("a = c", false),
            ("a = b", true),
            ("a = 1.0", true),
            ("b = 1", true),
            ("a = 1e0", true),
            ("neg = -2.0", true),
            ("big = 18446744073709551615", true),
            ("big = 18446744073709551614", false),
            ("obj = obj2", true),
            ("obj != obj2.k", true),
            ("missing = null", true),
            ("missing.deeper = n", true),
            ("c.x = null", true),
            ("missing != null", false),
            ("n = false", false),
            (r#"s = 'it\'s "q" \\\n\t'"#, true),
            ("s = \"it's \\\"q\\\" \\\\\n\t\"", true), // raw newline and tab in the string
            ("items.0.name = 'x' AND items.1.tags.1 = 'q'", true),
            ("items.5.name = null and items.name = null", true),
            ("map.0 = 'zero'", true),
            ("c = TRUE Or c = Null oR C = 'x'", false), // keys stay case-sensitive
            ("true = TRUE and FALSE != NULL", true),
        ] {
            assert_eq!(parse(text).matches(&payload), expected, "{text}");
        }
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for case in [
            "a=1 => a = 1",
            "A.b != 'x\"y' => A.b != \"x\\\"y\"",
            "(a = 1 OR b=2) and ((c = null)) => (a = 1 or b = 2) and c = null",
            "a = 1 or (b = 2 and c = 3) => a = 1 or b = 2 and c = 3",
            "(a=1 and b=2) and (c=3 or d=4) => a = 1 and b = 2 and (c = 3 or d = 4)",
            "items.0.name = -1.50e1 or x = true => items.0.name = -15.0 or x = true",
            "s = 'tab\\there\\nback\\\\' => s = \"tab\\there\\nback\\\\\"",
            // Found by the fuzz target: serde_json alone reads this one ulp off.
            "t1=101e60 => t1 = 1.01e+62",
        ] {
            let (text, canonical) = case.split_once(" => ").unwrap_or_default();
            let filter = parse(text);
            assert_eq!(filter.to_string(), canonical);
            assert_eq!(canonical.parse::<Filter>(), Ok(filter));
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        for (text, position, message) in [
            ("", 0, "empty expression"),
            ("   ", 3, "empty expression"),
            ("a = \"abc", 4, "unterminated string: missing closing `\"`"),
            ("a = 'x\\", 4, "unterminated string"),
            ("a = 'x\\q'", 6, "unknown escape `\\q`"),
            ("a == 1", 2, "unknown operator `==` (hint: use `=`)"),
            ("a ! 1", 2, "unknown operator `!` (hint: use `!=`)"),
            ("a <> 1", 2, "unknown operator `<>`"),
            ("a > 1", 2, "unknown operator `>`"),
            ("a = 1 && b", 6, "operator `&&` (hint: use `and`)"),
            ("a = 1 || b", 6, "operator `||` (hint: use `or`)"),
            ("a = 1 and", 9, "unexpected end of input: expected a"),
            ("a = ", 4, "end of input: expected a path or a value"),
            ("a = 1 or 2", 10, "input: expected `=` or `!=` after `2`"),
            ("a = = 1", 4, "value after `=`, found `=`"),
            ("and = 1", 0, "`a = 1`, or `(`, found `and`"),
            ("a = 1 b", 6, "`or` or end of input, found `b`"),
            ("a = 1)", 5, "unmatched `)`"),
            ("(a = 1", 6, "input: expected `)` to close the `(` at"),
            ("(a = 1 (", 7, "`(` at column 1, found `(`"),
            ("()", 1, "found `)`"),
            ("a = 01", 4, "bad number `01`"),
            ("a = 1.", 4, "bad number `1.`"),
            ("a = 1x", 4, "bad number `1x`"),
            ("a = -", 4, "bad number `-`"),
            ("a = 1e999", 4, "bad number `1e999`"),
            ("a. = 1", 2, "a key or an index after `.`, found ` `"),
            ("a.", 2, "after `.`, found end of input"),
            ("a.1b = 1", 2, "after `.`, found `1b`"),
            ("é = 1", 0, "unexpected character `é`"),
            ("\"é\" = 'x", 6, "missing closing `'`"),
        ] {
            let error = Filter::parse(text).expect_err(text);
            assert_eq!(error.position, position, "{text:?}: {error}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
        let error = Filter::parse("entity.type and x = 1").expect_err("`and` is no operator");
        let expected = "at column 13: expected `=` or `!=` after `entity.type`, found `and`";
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn length_and_depth_limits() {
        let longest = format!("a = 1{}", " ".repeat(MAX_LEN - 5));
        assert!(Filter::parse(&longest).is_ok());
        let error = Filter::parse(&format!("{longest} ")).expect_err("too long");
        assert_eq!(error.position, MAX_LEN);
        assert!(Filter::parse(&"é".repeat(10 * MAX_LEN)).is_err());
        // Compact input whose canonical form (`a = b and ...`) would no longer parse.
        let compact = vec!["a=b"; MAX_LEN / 8].join(" and ");
        assert!(Filter::parse(&compact).is_err_and(|error| error.message.contains("canonical")));

        let nested = |depth: usize| format!("{}a = 1{}", "(".repeat(depth), ")".repeat(depth));
        assert!(parse(&nested(MAX_DEPTH)).matches(&json!({"a": 1})));
        let error = Filter::parse(&nested(MAX_DEPTH + 1)).expect_err("too deep");
        assert_eq!(error.position, MAX_DEPTH);
        assert_eq!(error.message, "parentheses nested deeper than 64");
        assert!(Filter::parse(&"(".repeat(MAX_LEN)).is_err());
        // Alternating `and`/`or` keeps every level of parentheses in the tree and in the output.
        let mut deep = String::from("a = 1");
        for level in 0..MAX_DEPTH {
            deep = format!("b = 2 {} ({deep})", ["and", "or"][level % 2]);
        }
        let filter = parse(&deep);
        assert_eq!(parse(&filter.to_string()), filter);
        assert!(!filter.matches(&json!({"a": 1})));
    }

    /// Parsing must not panic, and what parses must print as text that parses back equal.
    fn assert_robust(text: &str) -> bool {
        let Ok(filter) = Filter::parse(text) else {
            return false;
        };
        let canonical = filter.to_string();
        assert_eq!(Filter::parse(&canonical), Ok(filter.clone()), "{text:?}");
        filter.matches(&json!({"a": 1, "b": {"c": [true, "x"]}, "e": -1.5}));
        true
    }

    #[test]
    fn malformed_and_random_inputs_never_panic_and_round_trip() {
        let valid = r#"(a = 1 or b.c.0 = true) and e != -1.5e0 or 'x' = "y\"z" and n = NULL"#;
        for (at, _) in valid.char_indices() {
            assert_robust(valid.get(..at).unwrap_or_default());
            assert_robust(valid.get(at..).unwrap_or_default());
        }
        let fragments: Vec<&str> =
            "a,b.c,.,0,1.5,-,e,=,!=,!,==,(,),\",',\\, ,and,or,null,é,'q',\"x\\\"y\",\n,1e5,_,<,&&"
                .split(',')
                .collect();
        let mut rng = Lcg(0x2545_F491_4F6C_DD1D);
        let mut parsed = 0;
        for round in 0..20_000 {
            // Garbage made of fragments, or a valid expression, perhaps with one fragment
            // inserted or one character removed (near misses).
            let text = if round % 2 == 0 {
                (0..=rng.below(12))
                    .map(|_| fragments[rng.below(fragments.len())])
                    .collect()
            } else {
                let mut text = random_expr(&mut rng, 4);
                let boundaries: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
                let at = boundaries
                    .get(rng.below(boundaries.len()))
                    .copied()
                    .unwrap_or(0);
                match rng.below(3) {
                    0 => text.insert_str(at, fragments[rng.below(fragments.len())]),
                    1 => drop(text.remove(at)),
                    _ => {}
                }
                text
            };
            parsed += usize::from(assert_robust(&text));
        }
        assert!(parsed > 3_000, "only {parsed} random inputs parsed");
    }

    /// Knuth's MMIX linear congruential generator: deterministic, so failures reproduce.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, bound: usize) -> usize {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005);
            self.0 = self.0.wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap_or(0) % bound.max(1)
        }
    }

    fn random_expr(rng: &mut Lcg, depth: usize) -> String {
        let operands: Vec<&str> = "a,b.c.1,e,1,-1.5e0,'x',\"y\\\"\",NULL,true"
            .split(',')
            .collect();
        let operand = |rng: &mut Lcg| operands[rng.below(operands.len())];
        match rng.below(if depth == 0 { 2 } else { 4 }) {
            0 | 1 => {
                let (left, op) = (operand(rng), ["=", "!="][rng.below(2)]);
                format!("{left} {op} {}", operand(rng))
            }
            2 => format!("({})", random_expr(rng, depth - 1)),
            _ => {
                let (left, keyword) = (random_expr(rng, depth - 1), ["and", "OR"][rng.below(2)]);
                format!("{left} {keyword} {}", random_expr(rng, depth - 1))
            }
        }
    }
}

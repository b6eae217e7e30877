//! One side of the comparison: a document read as plain JSON, and its `$ref`s resolved.

use super::Error;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// How many `$ref`s in a row are followed before the chain counts as a loop.
const MAX_REF_CHAIN: usize = 32;

/// A document, read as it is written (not through utoipa's model, which rejects valid 3.1).
#[derive(Clone, Copy)]
pub(super) struct Document<'a> {
    root: &'a Value,
    /// `old` or `new`, for errors.
    side: &'static str,
}

/// A value with its `$ref`s followed, and the reference that led to it, if any.
pub(super) struct Resolved<'a> {
    /// What the reference points at, with the referring object's sibling keywords laid
    /// over it (OpenAPI 3.1 allows `description` and friends next to `$ref`).
    pub value: Cow<'a, Value>,
    /// Names the referenced value (the `$ref` string, plus any siblings), for the recursion
    /// guard and the cache; `None` for a value written inline.
    pub key: Option<String>,
}

impl<'a> Document<'a> {
    /// Wraps a document.
    pub fn new(root: &'a Value, side: &'static str) -> Self {
        Document { root, side }
    }

    /// The object at `key` of the root (`webhooks`, `paths`), empty if absent or not an object.
    pub fn section(&self, key: &str) -> Option<&'a Map<String, Value>> {
        self.root.get(key).and_then(Value::as_object)
    }

    /// Follows `value`'s `$ref`s, if it has any. `at` names where the value is, for errors.
    pub fn resolve<'v>(&self, value: &'v Value, at: &str) -> Result<Resolved<'v>, Error>
    where
        'a: 'v,
    {
        let mut current = value;
        let mut key: Option<String> = None;
        let mut siblings: Vec<&'v Map<String, Value>> = Vec::new();
        for _ in 0..MAX_REF_CHAIN {
            let Some((object, reference)) = current
                .as_object()
                .and_then(|object| Some((object, object.get("$ref")?.as_str()?)))
            else {
                return Ok(Resolved {
                    value: overlay(current, &siblings),
                    key,
                });
            };
            if object.len() > 1 {
                siblings.push(object);
            }
            let key = key.get_or_insert_with(String::new);
            key.push_str(reference);
            if object.len() > 1 {
                // Siblings change what the reference means, so they are part of its name.
                let rest: Map<String, Value> = object
                    .iter()
                    .filter(|(k, _)| *k != "$ref")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                key.push(' ');
                key.push_str(&Value::Object(rest).to_string());
            }
            key.push('\n');
            current = self.target(reference, at)?;
        }
        Err(Error::RefLoop {
            side: self.side,
            at: at.to_owned(),
        })
    }

    /// The value a local `$ref` points at.
    fn target(&self, reference: &str, at: &str) -> Result<&'a Value, Error> {
        let unresolved = || Error::UnresolvedRef {
            side: self.side,
            reference: reference.to_owned(),
            at: at.to_owned(),
        };
        crate::refs::local(self.root, reference).ok_or_else(unresolved)
    }
}

/// `value` with the sibling keywords of the references that led to it laid over it; the
/// outermost reference's siblings win.
fn overlay<'a>(value: &'a Value, siblings: &[&'a Map<String, Value>]) -> Cow<'a, Value> {
    if siblings.is_empty() {
        return Cow::Borrowed(value);
    }
    let Some(object) = value.as_object() else {
        // A boolean schema under siblings: the siblings say nothing a boolean does not.
        return Cow::Borrowed(value);
    };
    let mut merged = object.clone();
    for layer in siblings.iter().rev() {
        for (k, v) in layer.iter().filter(|(k, _)| *k != "$ref") {
            merged.insert(k.clone(), v.clone());
        }
    }
    Cow::Owned(Value::Object(merged))
}

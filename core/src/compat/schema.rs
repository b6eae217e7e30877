//! Comparing two schemas in a direction: what the writer may now write against what the reader
//! of the old document accepts.

use super::differ::{Differ, Direction};
use super::document::Document;
use super::report::Class;
use super::Error;
use crate::refs::child;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How deep `allOf`s nest inside `allOf`s before the rest is ignored (a guard against loops).
const MAX_ALL_OF_DEPTH: usize = 8;

/// Upper bounds: a larger value, or none, lets more through.
const UPPER_BOUNDS: [&str; 5] = [
    "maxLength",
    "maximum",
    "exclusiveMaximum",
    "maxItems",
    "maxProperties",
];
/// Lower bounds: a smaller value, or none, lets more through.
const LOWER_BOUNDS: [&str; 5] = [
    "minLength",
    "minimum",
    "exclusiveMinimum",
    "minItems",
    "minProperties",
];

/// What a schema allows, with its `allOf` members merged in and its `$ref`s followed.
#[derive(Default)]
struct Shape {
    /// The JSON types allowed; `None` for any (no `type` keyword).
    types: Option<BTreeSet<String>>,
    /// Whether `types` is the union of `oneOf`/`anyOf` alternatives rather than a `type`.
    typed_by_alternatives: bool,
    properties: BTreeMap<String, Value>,
    required: BTreeSet<String>,
    /// `additionalProperties: false` (or `unevaluatedProperties: false`).
    closed: bool,
    /// Every other keyword, the schema's own before its `allOf` members'.
    keywords: Map<String, Value>,
}

impl Shape {
    /// The shape of `schema` (already resolved), read in `doc`.
    fn of(doc: &Document<'_>, schema: &Value, at: &str, depth: usize) -> Result<Shape, Error> {
        let Some(object) = schema.as_object() else {
            // `true`, or a value that is not a schema: no constraint.
            return Ok(Shape::default());
        };
        let mut shape = Shape {
            types: types_of(object),
            closed: object.get("additionalProperties") == Some(&Value::Bool(false))
                || object.get("unevaluatedProperties") == Some(&Value::Bool(false)),
            ..Shape::default()
        };
        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            shape.properties = properties.clone().into_iter().collect();
        }
        if let Some(required) = object.get("required").and_then(Value::as_array) {
            shape.required = required
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        for (key, value) in object {
            if !matches!(key.as_str(), "properties" | "required" | "allOf" | "type") {
                shape.keywords.insert(key.clone(), value.clone());
            }
        }
        if depth < MAX_ALL_OF_DEPTH {
            let members = object.get("allOf").and_then(Value::as_array);
            for member in members.into_iter().flatten() {
                let member = doc.resolve(member, at)?;
                shape.merge(Shape::of(doc, &member.value, at, depth + 1)?);
            }
        }
        // A schema typed only by its alternatives can be recursive through them (schemars'
        // untagged enums: `A = anyOf [$ref A, null]`): past the depth, its type is unknown.
        if shape.types.is_none() && depth < MAX_ALL_OF_DEPTH {
            shape.types = alternatives_types(doc, &shape.keywords, at, depth + 1)?;
            shape.typed_by_alternatives = shape.types.is_some();
        }
        Ok(shape)
    }

    /// Adds an `allOf` member: a value must satisfy both.
    fn merge(&mut self, member: Shape) {
        self.types = match (self.types.take(), member.types) {
            (Some(mine), Some(theirs)) => Some(mine.intersection(&theirs).cloned().collect()),
            (mine, theirs) => mine.or(theirs),
        };
        for (name, schema) in member.properties {
            self.properties.entry(name).or_insert(schema);
        }
        self.required.extend(member.required);
        self.closed |= member.closed;
        for (key, value) in member.keywords {
            self.keywords.entry(key).or_insert(value);
        }
    }
}

/// The types a `type` keyword (string or array) allows, with 3.0's `nullable: true` as `null`.
fn types_of(object: &Map<String, Value>) -> Option<BTreeSet<String>> {
    let mut types: BTreeSet<String> = match object.get("type")? {
        Value::String(one) => [one.clone()].into(),
        Value::Array(many) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return None,
    };
    if object.get("nullable") == Some(&Value::Bool(true)) {
        types.insert("null".to_owned());
    }
    Some(types)
}

/// The union of the types of a `oneOf`/`anyOf`'s alternatives, if each says its types.
fn alternatives_types(
    doc: &Document<'_>,
    keywords: &Map<String, Value>,
    at: &str,
    depth: usize,
) -> Result<Option<BTreeSet<String>>, Error> {
    let alternatives = alternatives(keywords);
    if alternatives.is_empty() {
        return Ok(None);
    }
    let mut union = BTreeSet::new();
    for (_, _, alternative) in alternatives {
        let resolved = doc.resolve(alternative, at)?;
        match Shape::of(doc, &resolved.value, at, depth)?.types {
            Some(types) => union.extend(types),
            None => return Ok(None),
        }
    }
    Ok(Some(union))
}

/// The alternatives of `oneOf` and `anyOf`, each with its keyword and index.
fn alternatives(keywords: &Map<String, Value>) -> Vec<(&'static str, usize, &Value)> {
    let mut all = Vec::new();
    for keyword in ["oneOf", "anyOf"] {
        let list = keywords.get(keyword).and_then(Value::as_array);
        all.extend(
            list.into_iter()
                .flatten()
                .enumerate()
                .map(|(i, v)| (keyword, i, v)),
        );
    }
    all
}

/// Whether `types` allows values of type `t` (`number` allows integers).
fn covers(types: &Option<BTreeSet<String>>, t: &str) -> bool {
    types
        .as_ref()
        .is_none_or(|set| set.contains(t) || (t == "integer" && set.contains("number")))
}

/// `integer or null`, or `any type`.
fn describe_types(types: &Option<BTreeSet<String>>) -> String {
    match types {
        None => "any type".to_owned(),
        Some(set) if set.is_empty() => "no type".to_owned(),
        Some(set) => set.iter().cloned().collect::<Vec<_>>().join(" or "),
    }
}

impl Differ<'_> {
    /// Compares two schemas that may be `$ref`s; a pair of references already being compared
    /// further up (a recursive schema) is not compared again, and a pair compared elsewhere
    /// reuses that result.
    pub(super) fn schema(
        &mut self,
        old: &Value,
        new: &Value,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        let old = self.old.resolve(old, at)?;
        let new = self.new.resolve(new, at)?;
        let (Some(old_key), Some(new_key)) = (old.key, new.key) else {
            return self.resolved_schema(&old.value, &new.value, direction, at);
        };
        self.once_per_pair(old_key, new_key, direction, at, |differ| {
            differ.resolved_schema(&old.value, &new.value, direction, at)
        })
    }

    /// Compares two schemas whose own `$ref`s are followed.
    fn resolved_schema(
        &mut self,
        old: &Value,
        new: &Value,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        match (old, new) {
            (Value::Bool(false), Value::Bool(false)) => return Ok(()),
            (Value::Bool(false), _) => {
                let message = "the schema allowed no value and now allows some";
                self.emit(at, message, direction.widening());
                return Ok(());
            }
            (_, Value::Bool(false)) => {
                let message = "the schema now allows no value at all";
                self.emit(at, message, direction.narrowing());
                return Ok(());
            }
            _ => {}
        }
        let old = Shape::of(&self.old, old, at, 0)?;
        let new = Shape::of(&self.new, new, at, 0)?;
        // Alternatives on both sides are compared one by one below, not as a union of types.
        if !(old.typed_by_alternatives && new.typed_by_alternatives) {
            self.types(&old, &new, direction, at);
        }
        self.format(&old, &new, direction, at);
        self.bounds(&old, &new, direction, at);
        self.enumeration(&old, &new, direction, at);
        self.properties(&old, &new, direction, at)?;
        self.nested(&old, &new, "additionalProperties", direction, at)?;
        self.nested(&old, &new, "items", direction, at)?;
        self.alternatives(&old, &new, direction, at)
    }

    fn types(&mut self, old: &Shape, new: &Shape, direction: Direction, at: &str) {
        let widened: Vec<&String> = match &new.types {
            None => Vec::new(),
            Some(set) => set.iter().filter(|t| !covers(&old.types, t)).collect(),
        };
        let widened = !widened.is_empty() || (new.types.is_none() && old.types.is_some());
        let narrowed = match &old.types {
            None => new.types.is_some(),
            Some(set) => set.iter().any(|t| !covers(&new.types, t)),
        };
        let (from, to) = (describe_types(&old.types), describe_types(&new.types));
        let added_only_null = old
            .types
            .as_ref()
            .zip(new.types.as_ref())
            .is_some_and(|(o, n)| n.difference(o).eq(["null".to_owned()].iter()) && o.is_subset(n));
        if widened && narrowed {
            let message = format!("type changed from {from} to {to}");
            self.emit(at, &message, Class::Breaking);
        } else if added_only_null {
            let message = format!("the value may now be null (type {from} became {to})");
            self.emit(at, &message, direction.widening());
        } else if widened {
            let message = format!("type widened from {from} to {to}");
            self.emit(at, &message, direction.widening());
        } else if narrowed {
            let message = format!("type narrowed from {from} to {to}");
            self.emit(at, &message, direction.narrowing());
        }
    }

    fn format(&mut self, old: &Shape, new: &Shape, direction: Direction, at: &str) {
        let format = |shape: &Shape| {
            shape
                .keywords
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        match (format(old), format(new)) {
            (Some(o), Some(n)) if o != n => {
                let message = format!("format changed from `{o}` to `{n}`");
                self.emit(at, &message, Class::Breaking);
            }
            (Some(o), None) => {
                let message = format!(
                    "format `{o}` removed: any {} may appear",
                    describe_types(&new.types)
                );
                self.emit(at, &message, direction.widening());
            }
            (None, Some(n)) => {
                let message = format!("format `{n}` added");
                self.emit(at, &message, direction.narrowing());
            }
            _ => {}
        }
    }

    /// Length, range and count limits, and `pattern` and `multipleOf`.
    fn bounds(&mut self, old: &Shape, new: &Shape, direction: Direction, at: &str) {
        let number = |shape: &Shape, key: &str| shape.keywords.get(key).and_then(Value::as_f64);
        for (keys, upper) in [(&UPPER_BOUNDS, true), (&LOWER_BOUNDS, false)] {
            for key in keys {
                let (o, n) = (number(old, key), number(new, key));
                let loosened = match (o, n) {
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (Some(o), Some(n)) if o != n => (n > o) == upper,
                    _ => continue,
                };
                let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
                let (o, n) = (show(o), show(n));
                if loosened {
                    let message = format!("`{key}` loosened from {o} to {n}");
                    self.emit(at, &message, direction.widening());
                } else {
                    let message = format!("`{key}` tightened from {o} to {n}");
                    self.emit(at, &message, direction.narrowing());
                }
            }
        }
        for key in ["pattern", "multipleOf"] {
            match (old.keywords.get(key), new.keywords.get(key)) {
                (Some(o), None) => {
                    let message = format!("`{key}` {o} removed: values it rejected are allowed");
                    self.emit(at, &message, direction.widening());
                }
                (None, Some(n)) => {
                    let message = format!("`{key}` {n} added");
                    self.emit(at, &message, direction.narrowing());
                }
                (Some(o), Some(n)) if o != n => {
                    // Whether one regular expression contains another is not decidable here.
                    let message = format!("`{key}` changed from {o} to {n}");
                    self.emit(at, &message, Class::Breaking);
                }
                _ => {}
            }
        }
    }

    /// `enum` and `const`: the values a reader may have matched exhaustively.
    fn enumeration(&mut self, old: &Shape, new: &Shape, direction: Direction, at: &str) {
        let values = |shape: &Shape| -> Option<Vec<String>> {
            if let Some(one) = shape.keywords.get("const") {
                return Some(vec![one.to_string()]);
            }
            let list = shape.keywords.get("enum")?.as_array()?;
            Some(list.iter().map(Value::to_string).collect())
        };
        // A new value only breaks readers that match every value: "strict" when we write.
        let added_class = match direction {
            Direction::Sent => Class::BreakingForStrictReceivers,
            Direction::Received => Class::Safe,
        };
        match (values(old), values(new)) {
            (Some(o), Some(n)) => {
                let added: Vec<&str> = n
                    .iter()
                    .filter(|v| !o.contains(v))
                    .map(String::as_str)
                    .collect();
                let removed: Vec<&str> = o
                    .iter()
                    .filter(|v| !n.contains(v))
                    .map(String::as_str)
                    .collect();
                if !added.is_empty() {
                    let message = format!("enum value(s) added: {}", added.join(", "));
                    self.emit(at, &message, added_class);
                }
                if !removed.is_empty() {
                    let message = format!("enum value(s) removed: {}", removed.join(", "));
                    self.emit(at, &message, direction.narrowing());
                }
            }
            (Some(o), None) => {
                let message = format!("enum {} removed: any value may appear", o.join(", "));
                self.emit(at, &message, added_class);
            }
            (None, Some(n)) => {
                let message = format!("now limited to the enum {}", n.join(", "));
                self.emit(at, &message, direction.narrowing());
            }
            (None, None) => {}
        }
    }

    fn properties(
        &mut self,
        old: &Shape,
        new: &Shape,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        let base = child(at, "properties");
        for (name, old_schema) in &old.properties {
            let here = child(&base, name);
            let was_required = old.required.contains(name);
            let Some(new_schema) = new.properties.get(name) else {
                let (message, class) = match direction {
                    Direction::Sent if was_required => (format!("required property `{name}` removed: readers that expect it fail"), Class::Breaking),
                    Direction::Sent => (format!("optional property `{name}` removed: readers that use it no longer get it"), Class::Breaking),
                    Direction::Received if new.closed => (format!("property `{name}` removed from a closed object: writers that still send it are rejected"), Class::Breaking),
                    Direction::Received => (format!("property `{name}` removed: it is no longer read"), Class::Safe),
                };
                self.emit(&here, &message, class);
                continue;
            };
            match (was_required, new.required.contains(name)) {
                (true, false) => {
                    let message =
                        format!("property `{name}` is no longer required: it may be absent");
                    self.emit(&here, &message, direction.widening());
                }
                (false, true) => {
                    let message = format!("property `{name}` is now required");
                    self.emit(&here, &message, direction.narrowing());
                }
                _ => {}
            }
            self.schema(old_schema, new_schema, direction, &here)?;
        }
        for name in new
            .properties
            .keys()
            .filter(|name| !old.properties.contains_key(*name))
        {
            let here = child(&base, name);
            let required = new.required.contains(name);
            let (message, class) = match direction {
                Direction::Received if required => (format!("new required property `{name}`: writers that follow the old document do not send it"), Class::Breaking),
                Direction::Received => (format!("new optional property `{name}`"), Class::Safe),
                Direction::Sent if old.closed => (format!("new property `{name}` in an object that was closed (`additionalProperties: false`): readers that validate against the old document reject it"), Class::BreakingForStrictReceivers),
                Direction::Sent => (format!("new property `{name}`"), Class::Safe),
            };
            self.emit(&here, &message, class);
        }
        match (old.closed, new.closed) {
            (true, false) => {
                let message = "the object was closed (`additionalProperties: false`) and is now open: properties the old document ruled out may appear";
                self.emit(at, message, direction.widening());
            }
            (false, true) => {
                let message = "the object is now closed (`additionalProperties: false`)";
                self.emit(at, message, direction.narrowing());
            }
            _ => {}
        }
        Ok(())
    }

    /// A keyword holding one schema (`items`, `additionalProperties`), compared when both sides
    /// have it; a missing one allows anything.
    fn nested(
        &mut self,
        old: &Shape,
        new: &Shape,
        key: &str,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        let schema = |shape: &Shape| {
            shape
                .keywords
                .get(key)
                .filter(|v| v.is_object() || *v == &Value::Bool(true))
                .cloned()
        };
        // `additionalProperties: false` is compared as `closed` above.
        match (schema(old), schema(new)) {
            (Some(o), Some(n)) => self.schema(&o, &n, direction, &child(at, key)),
            (Some(o), None) if !(key == "additionalProperties" && new.closed) => {
                self.schema(&o, &Value::Bool(true), direction, &child(at, key))
            }
            (None, Some(n)) if !(key == "additionalProperties" && old.closed) => {
                self.schema(&Value::Bool(true), &n, direction, &child(at, key))
            }
            _ => Ok(()),
        }
    }

    /// `oneOf`/`anyOf` alternatives, matched by reference name, then by content (a schema
    /// moved to another name), then inline ones in order.
    fn alternatives(
        &mut self,
        old: &Shape,
        new: &Shape,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        let (old_alts, new_alts) = (alternatives(&old.keywords), alternatives(&new.keywords));
        if old_alts.is_empty() || new_alts.is_empty() {
            return Ok(()); // The types compared above cover a schema that gained or lost them.
        }
        let name = |v: &Value| v.get("$ref").and_then(Value::as_str).map(str::to_owned);
        let mut old_left: Vec<_> = old_alts.iter().collect();
        let mut new_left: Vec<_> = new_alts.iter().collect();
        let mut pairs = Vec::new();
        // 1. Same reference. 2. Different references, same content. 3. Inline, in order.
        for pass in 0..3 {
            let mut i = 0;
            while i < old_left.len() {
                let (_, _, o) = old_left[i];
                let found = new_left.iter().position(|(_, _, n)| match pass {
                    0 => name(o).is_some() && name(o) == name(n),
                    1 => name(o).is_some() && name(n).is_some() && self.same_content(o, n, at),
                    _ => name(o).is_none() && name(n).is_none(),
                });
                match found {
                    Some(j) => pairs.push((old_left.remove(i), new_left.remove(j))),
                    None => i += 1,
                }
            }
        }
        for ((_, _, o), (keyword, index, n)) in pairs {
            self.schema(
                o,
                n,
                direction,
                &child(&child(at, keyword), &index.to_string()),
            )?;
        }
        let label = |v: &Value| {
            name(v).map_or_else(
                || {
                    format!(
                        "an inline {} schema",
                        describe_types(&types_of(v.as_object().unwrap_or(&Map::new())))
                    )
                },
                |r| format!("`{}`", r.rsplit('/').next().unwrap_or(&r)),
            )
        };
        for (keyword, index, o) in old_left {
            let message = format!("alternative {} removed from {keyword}", label(o));
            self.emit(
                &child(&child(at, keyword), &index.to_string()),
                &message,
                direction.narrowing(),
            );
        }
        for (keyword, index, n) in new_left {
            let message = format!(
                "new alternative {} in {keyword}: readers that handle only the old ones fail",
                label(n)
            );
            self.emit(
                &child(&child(at, keyword), &index.to_string()),
                &message,
                direction.widening(),
            );
        }
        Ok(())
    }

    /// Whether two references point at equal schemas.
    fn same_content(&self, old: &Value, new: &Value, at: &str) -> bool {
        match (self.old.resolve(old, at), self.new.resolve(new, at)) {
            (Ok(o), Ok(n)) => o.value == n.value,
            _ => false,
        }
    }
}

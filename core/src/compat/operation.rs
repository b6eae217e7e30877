//! One operation: its parameters and headers, its request body, its responses, and their
//! content types.

use super::differ::{Differ, Direction, Role};
use super::document::Document;
use super::report::Class;
use super::Error;
use crate::refs::child;
use serde_json::Value;
use std::collections::BTreeMap;

/// The Standard Webhooks headers a receiver verifies a message with.
const SIGNATURE_HEADERS: [&str; 3] = ["webhook-id", "webhook-signature", "webhook-timestamp"];

/// A parameter or header, read from either side.
struct Field {
    pointer: String,
    /// `header `webhook-id``, for messages.
    label: String,
    is_header: bool,
    name: String,
    required: bool,
    schema: Value,
}

impl Differ<'_> {
    /// Compares an operation; `items` are the path items holding it (their parameters apply).
    pub(super) fn operation(
        &mut self,
        [old, new]: [&Value; 2],
        [old_item, new_item]: [&Value; 2],
        role: &Role,
        item_at: &str,
        at: &str,
    ) -> Result<(), Error> {
        let old_fields = parameters(&self.old, old_item, old, item_at, at)?;
        let new_fields = parameters(&self.new, new_item, new, item_at, at)?;
        self.fields(old_fields, new_fields, role.request)?;
        self.request_body(
            old.get("requestBody"),
            new.get("requestBody"),
            role.request,
            &child(at, "requestBody"),
        )?;
        self.responses(
            old.get("responses"),
            new.get("responses"),
            role.response,
            &child(at, "responses"),
        )
    }

    fn request_body(
        &mut self,
        old: Option<&Value>,
        new: Option<&Value>,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        let old = old
            .map(|o| self.old.resolve(o, at))
            .transpose()?
            .map(|r| r.value);
        let new = new
            .map(|n| self.new.resolve(n, at))
            .transpose()?
            .map(|r| r.value);
        let required = |body: &Value| body.get("required") == Some(&Value::Bool(true));
        match (old, new) {
            (Some(_), None) => {
                let (message, class) = match direction {
                    Direction::Sent => (
                        "request body removed: receivers that read it get none",
                        Class::Breaking,
                    ),
                    Direction::Received => {
                        ("request body removed: it is no longer read", Class::Safe)
                    }
                };
                self.emit(at, message, class);
            }
            (None, Some(new)) => {
                let (message, class) = match direction {
                    Direction::Sent => ("request body added", Class::Safe),
                    Direction::Received if required(&new) => ("required request body added: clients that follow the old document send none", Class::Breaking),
                    Direction::Received => ("optional request body added", Class::Safe),
                };
                self.emit(at, message, class);
            }
            (Some(old), Some(new)) => {
                match (required(&old), required(&new)) {
                    (true, false) => self.emit(
                        at,
                        "the request body is no longer required: it may be absent",
                        direction.widening(),
                    ),
                    (false, true) => self.emit(
                        at,
                        "the request body is now required",
                        direction.narrowing(),
                    ),
                    _ => {}
                }
                self.content(
                    old.get("content"),
                    new.get("content"),
                    direction,
                    &child(at, "content"),
                )?;
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// The media types of a body and their schemas.
    fn content(
        &mut self,
        old: Option<&Value>,
        new: Option<&Value>,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        let empty = serde_json::Map::new();
        let old = old.and_then(Value::as_object).unwrap_or(&empty);
        let new = new.and_then(Value::as_object).unwrap_or(&empty);
        let removed: Vec<&String> = old.keys().filter(|k| !new.contains_key(*k)).collect();
        let added: Vec<&String> = new.keys().filter(|k| !old.contains_key(*k)).collect();
        if let ([from], [to]) = (removed.as_slice(), added.as_slice()) {
            let message = format!(
                "content type changed from `{from}` to `{to}`: readers of `{from}` cannot read it"
            );
            self.emit(&child(at, to), &message, Class::Breaking);
        } else {
            for media in removed {
                let (message, class) = match direction {
                    Direction::Sent => (format!("no longer sent as `{media}`"), Class::Safe),
                    Direction::Received => (
                        format!("`{media}` no longer accepted: writers that send it are rejected"),
                        Class::Breaking,
                    ),
                };
                self.emit(&child(at, media), &message, class);
            }
            for media in added {
                let (message, class) = match direction {
                    Direction::Sent => (format!("may now be sent as `{media}`, which readers of the old document do not expect"), Class::Breaking),
                    Direction::Received => (format!("`{media}` now accepted too"), Class::Safe),
                };
                self.emit(&child(at, media), &message, class);
            }
        }
        for (media, old_media) in old {
            let Some(new_media) = new.get(media) else {
                continue;
            };
            let anything = Value::Bool(true);
            let old_schema = old_media.get("schema").unwrap_or(&anything);
            let new_schema = new_media.get("schema").unwrap_or(&anything);
            self.schema(
                old_schema,
                new_schema,
                direction,
                &child(&child(at, media), "schema"),
            )?;
        }
        Ok(())
    }

    fn responses(
        &mut self,
        old: Option<&Value>,
        new: Option<&Value>,
        direction: Direction,
        at: &str,
    ) -> Result<(), Error> {
        let empty = serde_json::Map::new();
        let old = old.and_then(Value::as_object).unwrap_or(&empty);
        let new = new.and_then(Value::as_object).unwrap_or(&empty);
        for (status, old_response) in old {
            let here = child(at, status);
            let Some(new_response) = new.get(status) else {
                let (message, class) = match direction {
                    Direction::Sent => (format!("status {status} no longer returned"), Class::Safe),
                    Direction::Received => (format!("answer {status} no longer documented: receivers that answer it as the old document says may be treated as failing"), Class::Breaking),
                };
                self.emit(&here, &message, class);
                continue;
            };
            let old_response = self.old.resolve(old_response, &here)?.value;
            let new_response = self.new.resolve(new_response, &here)?.value;
            let old_headers = headers(&self.old, &old_response, &here)?;
            let new_headers = headers(&self.new, &new_response, &here)?;
            self.fields(old_headers, new_headers, direction)?;
            self.content(
                old_response.get("content"),
                new_response.get("content"),
                direction,
                &child(&here, "content"),
            )?;
        }
        for status in new.keys().filter(|s| !old.contains_key(*s)) {
            let (message, class) = match direction {
                Direction::Sent => (format!("new status {status}: clients that handle only the documented ones fail on it"), Class::BreakingForStrictReceivers),
                Direction::Received => (format!("answer {status} now documented too"), Class::Safe),
            };
            self.emit(&child(at, status), &message, class);
        }
        Ok(())
    }

    /// Parameters or headers, matched by location and name.
    fn fields(
        &mut self,
        old: BTreeMap<String, Field>,
        mut new: BTreeMap<String, Field>,
        direction: Direction,
    ) -> Result<(), Error> {
        for (key, old_field) in old {
            let Field { label, name, .. } = &old_field;
            let Some(new_field) = new.remove(&key) else {
                let signature = old_field.is_header && SIGNATURE_HEADERS.contains(&name.as_str());
                let (message, class) = match direction {
                    Direction::Sent if signature => (format!("signature {label} no longer sent: receivers that verify Standard Webhooks signatures reject every message"), Class::Breaking),
                    Direction::Sent if old_field.required => (format!("required {label} no longer sent: readers that expect it fail"), Class::Breaking),
                    Direction::Sent => (format!("optional {label} no longer sent: readers that use it lose it"), Class::Breaking),
                    Direction::Received => (format!("{label} no longer read"), Class::Safe),
                };
                self.emit(&old_field.pointer, &message, class);
                continue;
            };
            match (old_field.required, new_field.required) {
                (true, false) => self.emit(
                    &new_field.pointer,
                    &format!("{label} is no longer required: it may be absent"),
                    direction.widening(),
                ),
                (false, true) => self.emit(
                    &new_field.pointer,
                    &format!("{label} is now required"),
                    direction.narrowing(),
                ),
                _ => {}
            }
            self.schema(
                &old_field.schema,
                &new_field.schema,
                direction,
                &child(&new_field.pointer, "schema"),
            )?;
        }
        for field in new.into_values() {
            let label = &field.label;
            let (message, class) = match direction {
                Direction::Received if field.required => (
                    format!(
                        "new required {label}: writers that follow the old document do not send it"
                    ),
                    Class::Breaking,
                ),
                _ => (
                    format!(
                        "new {} {label}",
                        if field.required {
                            "required"
                        } else {
                            "optional"
                        }
                    ),
                    Class::Safe,
                ),
            };
            self.emit(&field.pointer, &message, class);
        }
        Ok(())
    }
}

/// The parameters of an operation, its path item's first, keyed by location and name (header
/// names are case-insensitive).
fn parameters(
    doc: &Document<'_>,
    item: &Value,
    operation: &Value,
    item_at: &str,
    at: &str,
) -> Result<BTreeMap<String, Field>, Error> {
    let mut fields = BTreeMap::new();
    for (owner, owner_at) in [(item, item_at), (operation, at)] {
        let list = owner.get("parameters").and_then(Value::as_array);
        for (index, parameter) in list.into_iter().flatten().enumerate() {
            let pointer = child(&child(owner_at, "parameters"), &index.to_string());
            let parameter = doc.resolve(parameter, &pointer)?.value;
            let Some(name) = parameter.get("name").and_then(Value::as_str) else {
                continue;
            };
            let location = parameter
                .get("in")
                .and_then(Value::as_str)
                .unwrap_or("query");
            let is_header = location == "header";
            let name = if is_header {
                name.to_ascii_lowercase()
            } else {
                name.to_owned()
            };
            let field = Field {
                label: format!("{location} parameter `{name}`")
                    .replace("header parameter", "header"),
                required: location == "path"
                    || parameter.get("required") == Some(&Value::Bool(true)),
                schema: schema_of(&parameter),
                pointer,
                is_header,
                name: name.clone(),
            };
            fields.insert(format!("{location} {name}"), field);
        }
    }
    Ok(fields)
}

/// The headers of a response, keyed by lower-case name.
fn headers(
    doc: &Document<'_>,
    response: &Value,
    at: &str,
) -> Result<BTreeMap<String, Field>, Error> {
    let mut fields = BTreeMap::new();
    let map = response.get("headers").and_then(Value::as_object);
    for (name, header) in map.into_iter().flatten() {
        let pointer = child(&child(at, "headers"), name);
        let header = doc.resolve(header, &pointer)?.value;
        let name = name.to_ascii_lowercase();
        let field = Field {
            label: format!("response header `{name}`"),
            required: header.get("required") == Some(&Value::Bool(true)),
            schema: schema_of(&header),
            pointer,
            is_header: true,
            name: name.clone(),
        };
        fields.insert(name, field);
    }
    Ok(fields)
}

/// A parameter's or header's schema: `schema`, else that of its one `content` entry.
fn schema_of(field: &Value) -> Value {
    let from_content = || {
        let content = field.get("content")?.as_object()?;
        content.values().next()?.get("schema").cloned()
    };
    field
        .get("schema")
        .cloned()
        .or_else(from_content)
        .unwrap_or(Value::Bool(true))
}

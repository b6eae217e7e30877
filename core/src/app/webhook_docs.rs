//! The webhook reference page: every webhook of the document, grouped by tag, with an example
//! payload and, when deliveries are signed, how a receiver verifies them.
//!
//! Rendered once on the server from the document: plain HTML and one stylesheet, no
//! JavaScript, nothing loaded from elsewhere, so it works offline and under a strict
//! Content-Security-Policy (`default-src 'none'; style-src 'self'`).

use std::fmt::Write;

use serde_json::Value;

/// The stylesheet, served next to the page.
pub(super) const STYLESHEET: &str = include_str!("webhook_docs.css");

/// The group of webhooks that have no tag.
const UNTAGGED: &str = "Other webhooks";

/// Where the page links: the stylesheet, and the other endpoints when they are on.
pub(super) struct Links<'a> {
    pub stylesheet: &'a str,
    pub json: Option<&'a str>,
    pub swagger_ui: Option<&'a str>,
}

/// One webhook operation: its name (the event), its method and the operation object.
struct Entry<'a> {
    name: &'a str,
    method: &'a str,
    operation: &'a Value,
}

/// The page for `doc` (the document as JSON).
pub(super) fn render(doc: &Value, links: &Links<'_>) -> String {
    let title = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("API");
    let version = doc
        .pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("");
    let groups = groups(doc);
    let mut page = String::with_capacity(16 * 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t} webhooks</title>\n<link rel=\"stylesheet\" href=\"{css}\">\n</head>\n<body>\n\
         <header>\n<h1>{t} <span class=\"version\">{v}</span></h1>\n",
        t = escape(title),
        v = escape(version),
        css = escape(links.stylesheet),
    );
    if let Some(description) = doc.pointer("/info/description").and_then(Value::as_str) {
        paragraphs(&mut page, description);
    }
    page.push_str("<p class=\"links\">The webhooks this API sends, grouped by tag.");
    if let Some(json) = links.json {
        let _ = write!(page, " <a href=\"{}\">OpenAPI document</a>", escape(json));
    }
    if let Some(ui) = links.swagger_ui {
        let _ = write!(page, " <a href=\"{}\">Swagger UI</a>", escape(ui));
    }
    page.push_str("</p>\n</header>\n");
    table_of_contents(&mut page, &groups);
    page.push_str("<main>\n");
    if groups.is_empty() {
        page.push_str("<p>This document declares no webhooks.</p>\n");
    }
    for (g, group) in groups.iter().enumerate() {
        let _ = write!(
            page,
            "<section class=\"tag\" id=\"tag-{g}\">\n<h2>{}</h2>\n",
            escape(&group.name)
        );
        if let Some(description) = group.description {
            paragraphs(&mut page, description);
        }
        for (w, entry) in group.entries.iter().enumerate() {
            webhook(&mut page, doc, entry, &format!("webhook-{g}-{w}"));
        }
        page.push_str("</section>\n");
    }
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

struct Group<'a> {
    name: String,
    description: Option<&'a str>,
    entries: Vec<Entry<'a>>,
}

/// Webhooks by tag: the document's `tags` order first, then tags in order of appearance, then
/// the untagged ones. A webhook with two tags is listed under both, as Swagger UI does.
fn groups(doc: &Value) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = doc
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            Some(Group {
                name: tag.get("name")?.as_str()?.to_owned(),
                description: tag.get("description").and_then(Value::as_str),
                entries: Vec::new(),
            })
        })
        .collect();
    let mut untagged = Vec::new();
    let webhooks = doc.get("webhooks").and_then(Value::as_object);
    for (name, item) in webhooks.into_iter().flatten() {
        let operations = item.as_object().into_iter().flatten();
        for (method, operation) in operations.filter(|(m, _)| is_method(m)) {
            let entry = || Entry {
                name,
                method,
                operation,
            };
            let tags = operation.get("tags").and_then(Value::as_array);
            let tags: Vec<&str> = tags
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if tags.is_empty() {
                untagged.push(entry());
            }
            for tag in tags {
                match groups.iter_mut().find(|g| g.name == tag) {
                    Some(group) => group.entries.push(entry()),
                    None => groups.push(Group {
                        name: tag.to_owned(),
                        description: None,
                        entries: vec![entry()],
                    }),
                }
            }
        }
    }
    groups.retain(|g| !g.entries.is_empty());
    if !untagged.is_empty() {
        let name = if groups.is_empty() {
            "Webhooks"
        } else {
            UNTAGGED
        };
        groups.push(Group {
            name: name.to_owned(),
            description: None,
            entries: untagged,
        });
    }
    groups
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

fn table_of_contents(page: &mut String, groups: &[Group<'_>]) {
    page.push_str("<nav>\n<ul>\n");
    for (g, group) in groups.iter().enumerate() {
        let _ = write!(
            page,
            "<li><a href=\"#tag-{g}\">{}</a> <span class=\"count\">{}</span>\n<ul>\n",
            escape(&group.name),
            group.entries.len()
        );
        for (w, entry) in group.entries.iter().enumerate() {
            let _ = writeln!(
                page,
                "<li><a href=\"#webhook-{g}-{w}\"><code>{}</code></a></li>",
                escape(entry.name)
            );
        }
        page.push_str("</ul>\n</li>\n");
    }
    page.push_str("</ul>\n</nav>\n");
}

fn webhook(page: &mut String, doc: &Value, entry: &Entry<'_>, id: &str) {
    let op = entry.operation;
    let text = |key| op.get(key).and_then(Value::as_str);
    let _ = write!(
        page,
        "<article class=\"webhook\" id=\"{id}\">\n<h3><span class=\"method\">{}</span> <code class=\"event\">{}</code>",
        escape(&entry.method.to_uppercase()),
        escape(entry.name)
    );
    if let Some(summary) = text("summary") {
        let _ = write!(page, " <span class=\"summary\">{}</span>", escape(summary));
    }
    if op.get("deprecated") == Some(&Value::Bool(true)) {
        page.push_str(" <span class=\"deprecated\">deprecated</span>");
    }
    page.push_str("</h3>\n");
    if let Some(description) = text("description") {
        paragraphs(page, description);
    }
    parameters(page, op);
    let signed = header_names(op).any(|h| h.eq_ignore_ascii_case("webhook-signature"));
    let body = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object);
    if let Some((content_type, media)) = body.and_then(|c| c.iter().next()) {
        payload(page, doc, content_type, media);
    }
    responses(page, op);
    if signed {
        verification(page, entry, body_type(op));
    }
    page.push_str("</article>\n");
}

fn header_names(op: &Value) -> impl Iterator<Item = &str> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("in").and_then(Value::as_str) == Some("header"))
        .filter_map(|p| p.get("name")?.as_str())
}

/// Header and query parameters, in one table.
fn parameters(page: &mut String, op: &Value) {
    let Some(params) = op.get("parameters").and_then(Value::as_array) else {
        return;
    };
    if params.is_empty() {
        return;
    }
    page.push_str("<h4>Parameters</h4>\n<table class=\"fields\">\n<tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr>\n");
    for param in params {
        let field = |key| param.get(key).and_then(Value::as_str).unwrap_or("");
        let required = param.get("required") == Some(&Value::Bool(true));
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(field("name")),
            if required {
                " <span class=\"required\">required</span>"
            } else {
                ""
            },
            escape(field("in")),
            escape(&type_name(param.get("schema").unwrap_or(&Value::Null))),
            escape(field("description")),
        );
    }
    page.push_str("</table>\n");
}

fn payload(page: &mut String, doc: &Value, content_type: &str, media: &Value) {
    let schema = media.get("schema").unwrap_or(&Value::Null);
    let _ = writeln!(
        page,
        "<h4>Payload <span class=\"content-type\">{}</span> <code>{}</code></h4>",
        escape(content_type),
        escape(&type_name(schema))
    );
    fields(page, doc, schema);
    let declared = media.get("example").cloned().or_else(|| {
        let examples = media.get("examples")?.as_object()?;
        examples.values().find_map(|e| e.get("value").cloned())
    });
    let (example, origin) = match declared {
        Some(example) => (example, "Example"),
        None => (
            crate::example::from_schema(schema, doc),
            "Example, generated from the schema",
        ),
    };
    let pretty = serde_json::to_string_pretty(&example).unwrap_or_default();
    let _ = write!(
        page,
        "<p class=\"example-label\">{origin}</p>\n<pre class=\"example\"><code>{}</code></pre>\n",
        escape(&pretty)
    );
}

/// The payload's own fields (one level, after following a `$ref`), so a reader sees the
/// types and descriptions next to the example.
fn fields(page: &mut String, doc: &Value, schema: &Value) {
    let resolved = crate::refs::follow(doc, schema);
    let Some(properties) = resolved.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = resolved
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    page.push_str(
        "<table class=\"fields\">\n<tr><th>Field</th><th>Type</th><th>Description</th></tr>\n",
    );
    for (name, property) in properties {
        let description = property
            .get("description")
            .or_else(|| crate::refs::follow(doc, property).get("description"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            if required.contains(&name.as_str()) {
                " <span class=\"required\">required</span>"
            } else {
                ""
            },
            escape(&type_name(property)),
            escape(description),
        );
    }
    page.push_str("</table>\n");
}

fn responses(page: &mut String, op: &Value) {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        return;
    };
    page.push_str("<h4>Responses the sender expects</h4>\n<ul class=\"responses\">\n");
    for (status, response) in responses {
        let description = response
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let _ = writeln!(
            page,
            "<li><code>{}</code> {}</li>",
            escape(status),
            escape(description)
        );
    }
    page.push_str("</ul>\n");
}

/// How a receiver checks a Standard Webhooks signature: hookspec's receiver kit, and the
/// Standard Webhooks libraries for Python and JavaScript. Each verifies the raw body.
fn verification(page: &mut String, entry: &Entry<'_>, body_type: Option<&str>) {
    let payload_type = body_type.unwrap_or("serde_json::Value");
    let rust = format!(
        "// Cargo.toml: hookspec = {{ version = \"0.1\", features = [\"receiver\"] }}\n\
         use hookspec::receiver::Verified;\n\
         use hookspec::signing::{{Secret, Verifier}};\n\n\
         // The router's state holds Verifier::new(Secret::parse(\"whsec_…\")?):\n\
         // a bad signature is answered 401, a stale timestamp too.\n\
         async fn on_event(event: Verified<{payload_type}>) -> axum::http::StatusCode {{\n    \
             // event.id is the same on every retry: use it to drop duplicates.\n    \
             axum::http::StatusCode::NO_CONTENT\n\
         }}"
    );
    let python = "# pip install standardwebhooks\n\
         from standardwebhooks.webhooks import Webhook\n\n\
         # the raw request body, before any JSON parsing, and the request's headers\n\
         payload = Webhook(\"whsec_…\").verify(body, headers)";
    let javascript = "// npm install standardwebhooks\n\
         import { Webhook } from \"standardwebhooks\";\n\n\
         // the raw request body, as a string, and the request's headers\n\
         const payload = new Webhook(\"whsec_…\").verify(body, headers);";
    let _ = write!(
        page,
        "<details class=\"verify\">\n<summary>Verify the signature of <code>{}</code></summary>\n\
         <p>Deliveries are signed per <a href=\"https://www.standardwebhooks.com\">Standard Webhooks</a>: \
         <code>webhook-signature</code> holds <code>v1,</code> + the base64 HMAC-SHA256 of \
         <code>{{webhook-id}}.{{webhook-timestamp}}.{{body}}</code> with the subscription's secret.</p>\n\
         <p class=\"lang\">Rust, with hookspec's receiver kit</p>\n<pre><code>{}</code></pre>\n\
         <p class=\"lang\">Python</p>\n<pre><code>{}</code></pre>\n\
         <p class=\"lang\">JavaScript</p>\n<pre><code>{}</code></pre>\n</details>\n",
        escape(entry.name),
        escape(&rust),
        escape(python),
        escape(javascript),
    );
}

/// The schema name of a `$ref` body, for the Rust snippet's type.
fn body_type(op: &Value) -> Option<&str> {
    let content = op.pointer("/requestBody/content")?.as_object()?;
    let schema = content.values().next()?.get("schema")?;
    schema
        .get("$ref")?
        .as_str()?
        .strip_prefix("#/components/schemas/")
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// A short type for a schema: `Payment`, `string (date-time)`, `array of Payment`.
fn type_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    for choice in ["oneOf", "anyOf", "allOf"] {
        if let Some(choices) = schema.get(choice).and_then(Value::as_array) {
            let names: Vec<String> = choices.iter().map(type_name).collect();
            return names.join(if choice == "allOf" { " & " } else { " | " });
        }
    }
    let base = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => return "any".to_owned(),
    };
    if base == "array" {
        if let Some(items) = schema.get("items") {
            return format!("array of {}", type_name(items));
        }
    }
    match schema.get("format").and_then(Value::as_str) {
        Some(format) => format!("{base} ({format})"),
        None => base,
    }
}

/// Text as paragraphs: each blank-line-separated block, escaped (descriptions are Markdown,
/// shown as written rather than interpreted).
fn paragraphs(page: &mut String, text: &str) {
    for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        let _ = writeln!(page, "<p>{}</p>", escape(block));
    }
}

/// HTML-escapes text for element content and double-quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const LINKS: Links<'static> = Links {
        stylesheet: "/webhook-docs/style.css",
        json: Some("/openapi.json"),
        swagger_ui: None,
    };

    #[test]
    fn groups_follow_the_documents_tag_order_then_appearance_then_untagged() {
        let doc = json!({
            "tags": [{"name": "zeta", "description": "Last by name, first by the document."}, {"name": "unused"}],
            "webhooks": {
                "a": {"post": {"tags": ["alpha"]}},
                "b": {"post": {"tags": ["zeta", "alpha"]}},
                "c": {"post": {}, "parameters": []},
            }
        });
        let groups = groups(&doc);
        let names: Vec<(&str, Vec<&str>)> = groups
            .iter()
            .map(|g| (g.name.as_str(), g.entries.iter().map(|e| e.name).collect()))
            .collect();
        assert_eq!(
            names,
            [
                ("zeta", vec!["b"]),
                ("alpha", vec!["a", "b"]),
                (UNTAGGED, vec!["c"])
            ]
        );
        let page = render(&doc, &LINKS);
        assert!(page.contains("<p>Last by name, first by the document.</p>"));
        assert!(!page.contains("unused"));
    }

    #[test]
    fn declared_examples_win_and_others_are_generated() {
        let doc = json!({
            "webhooks": {"paid": {"post": {"requestBody": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/P"}, "example": {"amount": 12.5}
            }}}}},
            "made": {"post": {"requestBody": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/P"}
            }}}}}},
            "components": {"schemas": {"P": {"type": "object", "properties": {"amount": {"type": "number", "description": "In <b>cents</b>."}}}}}
        });
        let page = render(&doc, &LINKS);
        assert!(page.contains("<p class=\"example-label\">Example</p>\n<pre class=\"example\"><code>{\n  &quot;amount&quot;: 12.5\n}</code></pre>"), "{page}");
        assert!(page.contains("Example, generated from the schema</p>\n<pre class=\"example\"><code>{\n  &quot;amount&quot;: 0.0\n}</code></pre>"), "{page}");
        assert!(
            page.contains("<td>In &lt;b&gt;cents&lt;/b&gt;.</td>"),
            "{page}"
        );
        assert!(!page.contains("This document declares no webhooks"));
    }

    #[test]
    fn verification_appears_only_on_signed_webhooks() {
        let signed = json!({"webhooks": {"s": {"post": {
            "parameters": [{"name": "webhook-signature", "in": "header", "required": true, "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}}}
        }}}, "components": {"schemas": {"Payment": {"type": "object"}}}});
        let page = render(&signed, &LINKS);
        assert!(
            page.contains("Verify the signature of <code>s</code>"),
            "{page}"
        );
        assert!(page.contains("Verified&lt;Payment&gt;"), "{page}");
        assert!(page.contains("from standardwebhooks.webhooks import Webhook"));
        let unsigned = json!({"webhooks": {"u": {"post": {}}}});
        assert!(!render(&unsigned, &LINKS).contains("Verify the signature"));
    }

    #[test]
    fn type_names() {
        assert_eq!(
            type_name(&json!({"$ref": "#/components/schemas/Payment"})),
            "Payment"
        );
        assert_eq!(
            type_name(&json!({"type": "string", "format": "date-time"})),
            "string (date-time)"
        );
        assert_eq!(
            type_name(&json!({"type": "array", "items": {"$ref": "#/x/Y"}})),
            "array of Y"
        );
        assert_eq!(
            type_name(&json!({"type": ["string", "null"]})),
            "string | null"
        );
        assert_eq!(
            type_name(&json!({"oneOf": [{"type": "integer"}, {"type": "null"}]})),
            "integer | null"
        );
        assert_eq!(type_name(&json!({})), "any");
    }
}

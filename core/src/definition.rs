//! The runtime description of a declared webhook. The `wh*` macros build these with the
//! builder methods below; code that declares webhooks without macros can do the same.

use utoipa::openapi::security::SecurityRequirement;

use crate::schema::SchemaSource;
use crate::Method;

/// A function that serializes a webhook's example payload.
pub type ExampleFn = fn() -> Result<serde_json::Value, serde_json::Error>;

/// A function that lists the query parameters of a `Query<T>` webhook parameter.
pub type QueryFn = fn() -> Vec<utoipa::openapi::path::Parameter>;

#[derive(Clone, Debug)]
pub(crate) enum Example {
    Json(&'static str),
    Value(ExampleFn),
}

/// One declared webhook: its name, methods and everything the document says about it.
#[derive(Clone, Debug)]
pub struct WebhookDef {
    pub(crate) name: String,
    /// The name as declared, which delivery sends (in an envelope's `type`) even when a
    /// gateway documents the webhook under another name.
    pub(crate) declared_name: String,
    pub(crate) methods: &'static [Method],
    pub(crate) operation_id: String,
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) deprecated: bool,
    pub(crate) status_code: Option<String>,
    pub(crate) response_description: Option<String>,
    pub(crate) responses: Vec<ResponseDef>,
    pub(crate) headers: Vec<HeaderDef>,
    pub(crate) security: Option<Vec<SecurityRequirement>>,
    pub(crate) content_type: Option<String>,
    pub(crate) include_in_schema: bool,
    pub(crate) example: Option<Example>,
    pub(crate) payload: Option<SchemaSource>,
    pub(crate) query: Option<QueryFn>,
    pub(crate) returns: Option<SchemaSource>,
    pub(crate) envelope: bool,
}

impl WebhookDef {
    /// A webhook named `name`, sent with `methods`, whose operationId is `operation_id`.
    pub fn new(
        name: impl Into<String>,
        methods: &'static [Method],
        operation_id: impl Into<String>,
    ) -> Self {
        let name = name.into();
        WebhookDef {
            declared_name: name.clone(),
            name,
            methods,
            operation_id: operation_id.into(),
            summary: None,
            description: None,
            tags: Vec::new(),
            deprecated: false,
            status_code: None,
            response_description: None,
            responses: Vec::new(),
            headers: Vec::new(),
            security: None,
            content_type: None,
            include_in_schema: true,
            example: None,
            payload: None,
            query: None,
            returns: None,
            envelope: false,
        }
    }

    /// The webhook's name: its key in the document's `webhooks`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The methods it is sent with.
    pub fn methods(&self) -> &'static [Method] {
        self.methods
    }

    /// Its operationId (per method `{id}_{method}` when it has several methods).
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// The Rust type of its payload, if it has one.
    pub fn payload_type(&self) -> Option<String> {
        self.payload.as_ref().map(SchemaSource::type_name)
    }

    /// Whether its payload is wrapped in a Standard Webhooks [`Envelope`](crate::Envelope).
    pub fn is_enveloped(&self) -> bool {
        self.envelope
    }

    /// Whether the webhook appears in the document.
    pub fn is_documented(&self) -> bool {
        self.include_in_schema
    }

    /// Sets the one-line summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Sets the longer description (Markdown).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds tags.
    pub fn tags(mut self, tags: &[&str]) -> Self {
        add_tags(&mut self.tags, tags.iter().copied());
        self
    }

    /// Marks the webhook deprecated.
    pub fn deprecated(mut self, deprecated: bool) -> Self {
        self.deprecated = deprecated;
        self
    }

    /// The status (`"204"`, `"2XX"`) of the acknowledging response; `"2XX"` by default.
    pub fn status_code(mut self, status: impl Into<String>) -> Self {
        self.status_code = Some(status.into());
        self
    }

    /// The description of the acknowledging response.
    pub fn response_description(mut self, description: impl Into<String>) -> Self {
        self.response_description = Some(description.into());
        self
    }

    /// Adds a documented response.
    pub fn response(mut self, response: ResponseDef) -> Self {
        self.responses.push(response);
        self
    }

    /// Adds a request header the receiver will see.
    pub fn header(mut self, header: HeaderDef) -> Self {
        self.headers.push(header);
        self
    }

    /// Adds one security requirement: all its `(scheme, scopes)` pairs apply together.
    pub fn security(mut self, requirement: &[(&str, &[&str])]) -> Self {
        self.security
            .get_or_insert_with(Vec::new)
            .push(requirement_of(requirement));
        self
    }

    /// The payload's media type; `application/json` by default.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// `false` keeps the webhook out of the document.
    pub fn include_in_schema(mut self, include: bool) -> Self {
        self.include_in_schema = include;
        self
    }

    /// An example payload, as JSON text (checked when the macro expands).
    pub fn example_json(mut self, json: &'static str) -> Self {
        self.example = Some(Example::Json(json));
        self
    }

    /// An example payload, serialized when the document is built.
    pub fn example(mut self, example: ExampleFn) -> Self {
        self.example = Some(Example::Value(example));
        self
    }

    /// The payload's schema: the request body.
    pub fn payload(mut self, schema: SchemaSource) -> Self {
        self.payload = Some(schema);
        self
    }

    /// Query parameters of a `GET`-style webhook.
    pub fn query(mut self, params: QueryFn) -> Self {
        self.query = Some(params);
        self
    }

    /// The body the receiver answers with.
    pub fn returns(mut self, schema: SchemaSource) -> Self {
        self.returns = Some(schema);
        self
    }

    /// Wraps the payload in a Standard Webhooks [`Envelope`](crate::Envelope).
    pub fn envelope(mut self, envelope: bool) -> Self {
        self.envelope = envelope;
        self
    }

    /// Applies a group's or gateway's options to this member. See [`Overrides`].
    pub fn with_group(mut self, overrides: &Overrides) -> Self {
        add_tags(&mut self.tags, overrides.tags.iter().map(String::as_str));
        self.deprecated |= overrides.deprecated.unwrap_or(false);
        self.include_in_schema &= overrides.include_in_schema.unwrap_or(true);
        self.envelope |= overrides.envelope.unwrap_or(false);
        if let Some(security) = &overrides.security {
            self.security = Some(security.clone());
        }
        self
    }
}

fn add_tags<'a>(tags: &mut Vec<String>, new: impl Iterator<Item = &'a str>) {
    for tag in new {
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
}

fn requirement_of(requirement: &[(&str, &[&str])]) -> SecurityRequirement {
    requirement
        .iter()
        .fold(SecurityRequirement::default(), |req, (scheme, scopes)| {
            req.add(
                *scheme,
                scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        })
}

/// Options a `#[webhooks]` group or a [`WebhookGateway`](crate::WebhookGateway) applies to every
/// member: tags are added, `deprecated`, `envelope` and `include_in_schema = false` win, and
/// `security` replaces the members' own. The outer layer applies last, so a gateway overrides its group.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub(crate) tags: Vec<String>,
    pub(crate) deprecated: Option<bool>,
    pub(crate) include_in_schema: Option<bool>,
    pub(crate) security: Option<Vec<SecurityRequirement>>,
    pub(crate) envelope: Option<bool>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds tags to every member.
    pub fn tags(mut self, tags: &[&str]) -> Self {
        add_tags(&mut self.tags, tags.iter().copied());
        self
    }

    /// Marks every member deprecated (or, with `false`, leaves them as declared).
    pub fn deprecated(mut self, deprecated: bool) -> Self {
        self.deprecated = Some(deprecated);
        self
    }

    /// `false` keeps every member out of the document.
    pub fn include_in_schema(mut self, include: bool) -> Self {
        self.include_in_schema = Some(include);
        self
    }

    /// Adds a security requirement that replaces the members' own.
    pub fn security(mut self, requirement: &[(&str, &[&str])]) -> Self {
        self.security
            .get_or_insert_with(Vec::new)
            .push(requirement_of(requirement));
        self
    }

    /// Wraps every member's payload in a Standard Webhooks [`Envelope`](crate::Envelope).
    pub fn envelope(mut self, envelope: bool) -> Self {
        self.envelope = Some(envelope);
        self
    }

    pub(crate) fn security_requirement(mut self, requirement: SecurityRequirement) -> Self {
        self.security.get_or_insert_with(Vec::new).push(requirement);
        self
    }
}

/// A request header, or a header of a documented response.
#[derive(Clone, Debug)]
pub struct HeaderDef {
    pub(crate) name: String,
    pub(crate) schema: SchemaSource,
    pub(crate) description: Option<String>,
    pub(crate) required: bool,
}

impl HeaderDef {
    /// A header whose value is described by `schema`; required unless said otherwise.
    pub fn new(name: impl Into<String>, schema: SchemaSource) -> Self {
        HeaderDef {
            name: name.into(),
            schema,
            description: None,
            required: true,
        }
    }

    /// Describes the header.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Whether every request carries it.
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }
}

/// A response the receiver may give, beside the acknowledging one.
#[derive(Clone, Debug)]
pub struct ResponseDef {
    pub(crate) status: String,
    pub(crate) description: Option<String>,
    pub(crate) body: Option<SchemaSource>,
    pub(crate) content_type: Option<String>,
    pub(crate) headers: Vec<HeaderDef>,
}

impl ResponseDef {
    /// A response with status `status` (`"410"`, `"4XX"`, `"default"`).
    pub fn new(status: impl Into<String>) -> Self {
        ResponseDef {
            status: status.into(),
            description: None,
            body: None,
            content_type: None,
            headers: Vec::new(),
        }
    }

    /// Describes the response.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The response's body.
    pub fn body(mut self, schema: SchemaSource) -> Self {
        self.body = Some(schema);
        self
    }

    /// The body's media type; `application/json` by default.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Adds a response header.
    pub fn header(mut self, header: HeaderDef) -> Self {
        self.headers.push(header);
        self
    }
}

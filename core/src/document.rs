//! Building the OpenAPI 3.1 document: webhooks into `webhooks`, their schemas into
//! `components/schemas`, every conflict an [`Error`].

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn, Paths};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, Responses};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityScheme;
use utoipa::openapi::{Deprecated, InfoBuilder, OpenApi, RefOr, Required};

use crate::definition::{Example, HeaderDef, WebhookDef};
use crate::merge::{merge, operations};
use crate::schema::SchemaRegistry;
use crate::{Error, WebhookGateway};

const JSON: &str = "application/json";
const ACK_DESCRIPTION: &str = "Any 2XX response acknowledges receipt.";

/// Builds an OpenAPI 3.1 document from webhook gateways, optionally on top of an existing
/// utoipa document (`#[derive(utoipa::OpenApi)]`) or a merge of several.
#[derive(Clone, Debug)]
#[must_use]
pub struct OpenApiBuilder {
    base: OpenApi,
    merged: Vec<OpenApi>,
    gateways: Vec<WebhookGateway>,
    security_schemes: Vec<(String, SecurityScheme)>,
    signed: bool,
}

impl OpenApiBuilder {
    /// A document titled `title` at API version `version`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        let mut base = OpenApi::new(
            InfoBuilder::new().title(title).version(version).build(),
            Paths::new(),
        );
        base.openapi = utoipa::openapi::OpenApiVersion::Version31;
        Self::from_openapi(base)
    }

    /// Starts from an existing document, e.g. `ApiDoc::openapi()`; its paths, schemas and
    /// webhooks are kept and checked against what is added.
    pub fn from_openapi(base: OpenApi) -> Self {
        OpenApiBuilder {
            base,
            merged: Vec::new(),
            gateways: Vec::new(),
            security_schemes: Vec::new(),
            signed: false,
        }
    }

    /// Adds the webhooks of a gateway.
    pub fn webhook(mut self, gateway: WebhookGateway) -> Self {
        self.gateways.push(gateway);
        self
    }

    /// Merges another document in (see [`merge`](crate::merge)).
    pub fn merge(mut self, other: OpenApi) -> Self {
        self.merged.push(other);
        self
    }

    /// Adds a security scheme that webhooks can require with `security(..)`.
    pub fn security_scheme(mut self, name: impl Into<String>, scheme: SecurityScheme) -> Self {
        self.security_schemes.push((name.into(), scheme));
        self
    }

    /// Documents the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`) on every webhook, as hookspec's dispatcher sends them.
    pub fn signed_webhooks(mut self) -> Self {
        self.signed = true;
        self
    }

    /// Replaces the starting document, keeping the title and version already set.
    #[cfg(feature = "app")]
    pub(crate) fn replace_base(&mut self, mut base: OpenApi) {
        base.openapi = utoipa::openapi::OpenApiVersion::Version31;
        base.info.title = std::mem::take(&mut self.base.info.title);
        base.info.version = std::mem::take(&mut self.base.info.version);
        self.base = base;
    }

    /// Builds the document. Duplicate webhooks, duplicate operationIds, clashing schema names
    /// and unknown security schemes are errors that name both sides; a `$ref` that resolves
    /// to nothing is an error naming it.
    pub fn build(self) -> Result<OpenApi, Error> {
        let mut doc = self.base;
        for other in self.merged {
            merge(&mut doc, other)?;
        }
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, scheme) in self.security_schemes {
            components.security_schemes.insert(name, scheme.into());
        }
        let mut registry = SchemaRegistry::default();
        for (name, schema) in std::mem::take(&mut components.schemas) {
            registry.insert(name, schema, "the base document")?;
        }
        let mut operation_ids = OperationIds::from_paths(&doc)?;
        let webhooks = doc.webhooks.get_or_insert_with(Paths::new);
        for gateway in self.gateways {
            for def in gateway
                .into_definitions()?
                .into_iter()
                .filter(|d| d.include_in_schema)
            {
                check_security(&def, doc.components.as_ref())?;
                for &method in def.methods {
                    let id = if def.methods.len() > 1 {
                        format!(
                            "{}_{}",
                            def.operation_id,
                            method.as_str().to_ascii_lowercase()
                        )
                    } else {
                        def.operation_id.clone()
                    };
                    let place = format!("webhook `{}` {method}", def.name);
                    if let Some(existing) =
                        webhooks.get_path_operation(&def.name, method.to_utoipa())
                    {
                        return Err(Error::DuplicateWebhook {
                            name: def.name.clone(),
                            method,
                            first: existing.operation_id.clone().unwrap_or_default(),
                            second: id,
                        });
                    }
                    operation_ids.claim(&id, place)?;
                    let mut operation = operation(&def, id, &mut registry)?;
                    if self.signed {
                        add_signature_headers(&mut operation);
                    }
                    // Moved into place once: utoipa's `add_path_operation` clones the
                    // operation and builds the path item on the stack before moving it into
                    // the map, a fifth of the time a small document took to build.
                    let item = webhooks.paths.entry(def.name.clone()).or_default();
                    *method.slot(item) = Some(operation);
                }
            }
        }
        if webhooks.paths.is_empty() {
            doc.webhooks = None;
        }
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.extend(registry.into_schemas());
        if components.schemas.is_empty()
            && components.security_schemes.is_empty()
            && components.responses.is_empty()
        {
            doc.components = None;
        }
        crate::refs::check_refs(&doc)?;
        Ok(doc)
    }
}

/// operationIds in use, with where they are used.
struct OperationIds(BTreeMap<String, String>);

impl OperationIds {
    fn from_paths(doc: &OpenApi) -> Result<Self, Error> {
        let mut ids = OperationIds(BTreeMap::new());
        let kinds = [
            ("path", Some(&doc.paths)),
            ("webhook", doc.webhooks.as_ref()),
        ];
        for (kind, paths) in kinds {
            for (path, item) in paths.into_iter().flat_map(|p| &p.paths) {
                for (method, op) in operations(item) {
                    if let Some(id) = &op.operation_id {
                        ids.claim(id, format!("{kind} `{path}` {method}"))?;
                    }
                }
            }
        }
        Ok(ids)
    }

    fn claim(&mut self, id: &str, place: String) -> Result<(), Error> {
        match self.0.get(id) {
            Some(first) => Err(Error::DuplicateOperationId {
                id: id.to_owned(),
                first: first.clone(),
                second: place,
            }),
            None => {
                self.0.insert(id.to_owned(), place);
                Ok(())
            }
        }
    }
}

fn check_security(
    def: &WebhookDef,
    components: Option<&utoipa::openapi::Components>,
) -> Result<(), Error> {
    let Some(security) = &def.security else {
        return Ok(());
    };
    // `SecurityRequirement` keeps its scheme names private; its JSON form shows them.
    let value = serde_json::to_value(security).unwrap_or_default();
    let schemes = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_object())
        .flat_map(|r| r.keys());
    for scheme in schemes {
        if !components.is_some_and(|c| c.security_schemes.contains_key(scheme)) {
            return Err(Error::UnknownSecurityScheme {
                webhook: def.name.clone(),
                scheme: scheme.clone(),
            });
        }
    }
    Ok(())
}

fn operation(
    def: &WebhookDef,
    id: String,
    registry: &mut SchemaRegistry,
) -> Result<Operation, Error> {
    let mut op = OperationBuilder::new()
        .operation_id(Some(id))
        .summary(def.summary.clone())
        .description(def.description.clone());
    if !def.tags.is_empty() {
        op = op.tags(Some(def.tags.clone()));
    }
    if def.deprecated {
        op = op.deprecated(Some(Deprecated::True));
    }
    if let Some(security) = &def.security {
        op = op.securities(Some(security.clone()));
    }
    for header in &def.headers {
        let param = ParameterBuilder::new()
            .name(&header.name)
            .parameter_in(ParameterIn::Header)
            .required(if header.required {
                Required::True
            } else {
                Required::False
            })
            .description(header.description.clone())
            .schema(Some(header.schema.register(registry)?));
        op = op.parameter(param);
    }
    if let Some(query) = def.query {
        for param in query() {
            op = op.parameter(param);
        }
    }
    let payload = def
        .payload
        .as_ref()
        .map(|payload| payload.register(registry))
        .transpose()?;
    // An enveloped webhook always has a body: `data` is `null` when there is no payload.
    let schema = match payload {
        _ if def.envelope => Some(crate::envelope::schema(&def.declared_name, payload)),
        payload => payload,
    };
    if let Some(schema) = schema {
        let mut content = ContentBuilder::new().schema(Some(schema));
        if let Some(example) = example(def)? {
            let example = match def.envelope {
                true => crate::envelope::example(&def.declared_name, example),
                false => example,
            };
            content = content.example(Some(example));
        }
        let media = def.content_type.as_deref().unwrap_or(JSON);
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content(media, content.build())
                .required(Some(Required::True))
                .build(),
        ));
    }
    Ok(op.responses(responses(def, registry)?).build())
}

/// The Standard Webhooks headers, before the webhook's own (which win on a name clash).
fn add_signature_headers(operation: &mut Operation) {
    const HEADERS: [(&str, &str, Type); 3] = [
        ("webhook-id", "The message id: the same on every retry, so receivers can drop duplicates.", Type::String),
        ("webhook-timestamp", "When this attempt was signed, in seconds since the Unix epoch.", Type::Integer),
        (
            "webhook-signature",
            "Space-separated signatures: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` with the subscription secret (several during a secret rotation). See https://www.standardwebhooks.com.",
            Type::String,
        ),
    ];
    let params = operation.parameters.get_or_insert_with(Vec::new);
    for (name, description, kind) in HEADERS.into_iter().rev() {
        if params.iter().any(
            |p| matches!(p, RefOr::T(p) if p.name == name && p.parameter_in == ParameterIn::Header),
        ) {
            continue;
        }
        let schema = ObjectBuilder::new().schema_type(kind).build();
        let param = ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(schema))
            .build();
        params.insert(0, RefOr::T(param));
    }
}

fn example(def: &WebhookDef) -> Result<Option<serde_json::Value>, Error> {
    let bad = |e: serde_json::Error| Error::BadExample {
        webhook: def.name.clone(),
        detail: e.to_string(),
    };
    match &def.example {
        None => Ok(None),
        Some(Example::Json(text)) => serde_json::from_str(text).map(Some).map_err(bad),
        Some(Example::Value(make)) => make().map(Some).map_err(bad),
    }
}

/// The acknowledging response (`2XX` unless said otherwise) plus the declared ones. A declared
/// 2xx response replaces the default acknowledgement unless a status or return type is given.
fn responses(def: &WebhookDef, registry: &mut SchemaRegistry) -> Result<Responses, Error> {
    let mut responses = Responses::new();
    let declared_success = def.responses.iter().any(|r| r.status.starts_with('2'));
    if def.status_code.is_some() || def.returns.is_some() || !declared_success {
        let status = def.status_code.clone().unwrap_or_else(|| "2XX".to_owned());
        let description = def
            .response_description
            .as_deref()
            .unwrap_or(ACK_DESCRIPTION);
        let mut response = ResponseBuilder::new().description(description);
        if let Some(body) = &def.returns {
            response = response.content(
                JSON,
                ContentBuilder::new()
                    .schema(Some(body.register(registry)?))
                    .build(),
            );
        }
        responses.responses.insert(status, response.build().into());
    }
    for declared in &def.responses {
        let description = declared
            .description
            .clone()
            .unwrap_or_else(|| default_description(&declared.status));
        let mut response = ResponseBuilder::new().description(description);
        if let Some(body) = &declared.body {
            let media = declared.content_type.as_deref().unwrap_or(JSON);
            response = response.content(
                media,
                ContentBuilder::new()
                    .schema(Some(body.register(registry)?))
                    .build(),
            );
        }
        for header in &declared.headers {
            response = response.header(&header.name, response_header(header, registry)?);
        }
        responses
            .responses
            .insert(declared.status.clone(), response.build().into());
    }
    Ok(responses)
}

fn response_header(
    header: &HeaderDef,
    registry: &mut SchemaRegistry,
) -> Result<utoipa::openapi::Header, Error> {
    Ok(HeaderBuilder::new()
        .schema(Some(header.schema.register(registry)?))
        .description(header.description.clone())
        .build())
}

fn default_description(status: &str) -> String {
    match status {
        "default" => "Any other response.".to_owned(),
        _ => format!("Status {status}."),
    }
}

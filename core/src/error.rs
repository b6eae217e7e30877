/// Why a document could not be built or merged. Every variant names both sides of a conflict.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The same webhook name and method were declared twice.
    #[error("webhook `{name}` {method} is declared twice: by `{first}` and by `{second}`")]
    DuplicateWebhook {
        /// The webhook name.
        name: String,
        /// The method both declare.
        method: crate::Method,
        /// The operationId of the first declaration.
        first: String,
        /// The operationId of the second declaration.
        second: String,
    },
    /// The same path and method appear in two merged documents.
    #[error("path `{path}` {method} is defined twice when merging documents")]
    DuplicatePath {
        /// The path.
        path: String,
        /// The method.
        method: String,
    },
    /// Two operations share an operationId.
    #[error("operationId `{id}` is used twice: by {first} and by {second}; set `operation_id = \"..\"` on one of them")]
    DuplicateOperationId {
        /// The shared operationId.
        id: String,
        /// Where it is first used, e.g. "webhook `new-event` POST".
        first: String,
        /// Where it is used again.
        second: String,
    },
    /// Two different schemas want the same name in `components/schemas`.
    #[error("schema name `{name}` is used by two different schemas: from `{first}` and from `{second}`; rename one (e.g. `#[schema(as = ..)]` or `#[schemars(rename = ..)]`)")]
    SchemaClash {
        /// The schema name.
        name: String,
        /// The Rust type (or document) that registered it first.
        first: String,
        /// The Rust type (or document) that registered it again, differently.
        second: String,
    },
    /// Two merged documents define a security scheme of the same name differently.
    #[error("security scheme `{name}` is defined differently in the merged documents")]
    SecuritySchemeClash {
        /// The scheme name.
        name: String,
    },
    /// A webhook requires a security scheme that the document does not define.
    #[error("webhook `{webhook}` requires security scheme `{scheme}`, which is not in components/securitySchemes; add it with `OpenApiBuilder::security_scheme`")]
    UnknownSecurityScheme {
        /// The webhook name.
        webhook: String,
        /// The missing scheme.
        scheme: String,
    },
    /// A schemars schema uses a keyword that the OpenAPI model cannot hold.
    #[error("the JSON schema of `{type_name}` cannot be represented without loss: {detail}")]
    UnsupportedSchema {
        /// The Rust type.
        type_name: String,
        /// What was lost.
        detail: String,
    },
    /// A webhook example could not be serialized.
    #[error("the example of webhook `{webhook}` is not valid JSON: {detail}")]
    BadExample {
        /// The webhook name.
        webhook: String,
        /// The serializer's message.
        detail: String,
    },
    /// A gateway option does not fit what the gateway holds.
    #[error("gateway option `{option}`: {detail}")]
    Gateway {
        /// The option.
        option: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A `$ref` in the built document points at nothing: a type's schema refers to a
    /// component that nothing registered (a hand-written `ToSchema` whose `schemas()` misses
    /// one, or a base document that is incomplete).
    #[error("the document refers to `{reference}` at `{at}`, which it does not define")]
    DanglingRef {
        /// The reference, e.g. `#/components/schemas/Address`.
        reference: String,
        /// The JSON pointer of the `$ref` in the document.
        at: String,
    },
}

//! The checked model: what validation hands to expansion. Every default is applied and every
//! combination checked, so expansion only quotes; a value is optional here only where the
//! generated code differs by whether it was written.

use proc_macro2::Span;
use syn::{Attribute, Ident, LitStr, Path, Type, Visibility};

use crate::raw::DocOptions;
use crate::Method;

/// One webhook declaration, on a free function or as a group member.
pub(crate) struct Webhook {
    pub(crate) name: LitStr,
    /// At least one, each once.
    pub(crate) methods: Vec<(Method, Span)>,
    /// The body parameter's type, `Json<T>` unwrapped; `None` for a webhook without a body.
    pub(crate) payload: Option<Type>,
    /// The `T` of the `Query<T>` parameter.
    pub(crate) query: Option<Type>,
    /// The return type, `Json<T>` unwrapped; `None` for `()`.
    pub(crate) returns: Option<Type>,
    /// The `summary` option, else the doc comment's first paragraph, else the name in Title Case.
    pub(crate) summary: String,
    /// The `description` option, else the rest of the doc comment.
    pub(crate) description: Option<String>,
    /// The `operation_id` option, else the function's name.
    pub(crate) operation_id: String,
    /// `Webhook::ENVELOPE`: the member's `envelope` option or its group's.
    pub(crate) envelope: bool,
    /// The docs of the generated handle type: the function's, else a line naming the webhook.
    pub(crate) handle_docs: Vec<Attribute>,
    /// The options that only add to the document, as written (plus the group's envelope).
    pub(crate) doc: DocOptions,
}

/// A `#[webhooks]` impl block.
pub(crate) struct Group {
    /// The paths of the `wh*` attributes taken off, named again so that their imports count
    /// as used.
    pub(crate) used_paths: Vec<Path>,
    /// At least one.
    pub(crate) members: Vec<Member>,
    /// The group's `tags`, `deprecated`, `include_in_schema` and `security`, as written.
    pub(crate) overrides: DocOptions,
}

/// A `wh*` method of a group: its own handle type.
pub(crate) struct Member {
    /// `Group` + the method's name in UpperCamelCase.
    pub(crate) handle: Ident,
    pub(crate) vis: Visibility,
    pub(crate) webhook: Webhook,
}

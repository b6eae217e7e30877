use utoipa::openapi::security::SecurityRequirement;

use crate::definition::{Overrides, WebhookDef};
use crate::{Error, Method};

/// A declared webhook, at the type level. Each `wh*` macro generates a handle type that
/// implements it: for `#[whpost("new-event")] async fn new_event(..)`, the type `new_event`.
///
/// Code that sends webhooks refers to an event through it, so the name and payload type are
/// checked by the compiler.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared webhook",
    note = "declare one with `#[hookspec::whpost(\"name\")]` (or another `wh*` macro) on a function"
)]
pub trait Webhook: 'static {
    /// The webhook's name: its key in the document's `webhooks`.
    const NAME: &'static str;
    /// The methods it is sent with.
    const METHODS: &'static [Method];
    /// The payload type: the function's body parameter, `()` if it has none.
    type Payload;
    /// Whether the payload is sent wrapped in an [`Envelope`](crate::Envelope): declared with
    /// `envelope` on the webhook or on its `#[webhooks]` group.
    const ENVELOPE: bool = false;

    /// Everything the document says about this webhook.
    fn definition() -> WebhookDef;
}

/// What [`WebhookGateway::new`] takes: a webhook handle or a `#[webhooks]` group.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither a webhook nor a webhook group",
    note = "pass a function marked with `#[whpost(\"name\")]` (or another `wh*` macro), or a type whose impl block is marked `#[webhooks]`"
)]
pub trait IntoWebhooks {
    /// The webhooks it declares.
    fn into_webhooks(self) -> Vec<WebhookDef>;
}

/// The function of the same name that every `wh*` macro leaves beside its handle type:
/// `WebhookGateway::new(new_event)`.
impl<F, W> IntoWebhooks for F
where
    F: FnOnce() -> W,
    W: Webhook,
{
    fn into_webhooks(self) -> Vec<WebhookDef> {
        vec![W::definition()]
    }
}

/// Adds webhooks to a document, like Esmerald's `WebhookGateway`. Its options apply to every
/// webhook it holds (Esmerald passes only `include_in_schema` down).
#[derive(Clone, Debug)]
#[must_use]
pub struct WebhookGateway {
    members: Vec<WebhookDef>,
    name: Option<String>,
    overrides: Overrides,
}

impl WebhookGateway {
    /// A gateway for one webhook handle or one `#[webhooks]` group.
    pub fn new(webhooks: impl IntoWebhooks) -> Self {
        WebhookGateway {
            members: webhooks.into_webhooks(),
            name: None,
            overrides: Overrides::default(),
        }
    }

    /// Documents the webhook under another name. Only for a gateway holding one webhook.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds tags to every webhook.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for tag in tags {
            self.overrides = self.overrides.tags(&[tag.as_ref()]);
        }
        self
    }

    /// Marks every webhook deprecated.
    pub fn deprecated(mut self, deprecated: bool) -> Self {
        self.overrides = self.overrides.deprecated(deprecated);
        self
    }

    /// Adds a security requirement that replaces the webhooks' own.
    pub fn security(mut self, requirement: SecurityRequirement) -> Self {
        self.overrides = self.overrides.security_requirement(requirement);
        self
    }

    /// `false` keeps every webhook out of the document.
    pub fn include_in_schema(mut self, include: bool) -> Self {
        self.overrides = self.overrides.include_in_schema(include);
        self
    }

    /// `true` wraps every webhook's payload in a Standard Webhooks [`Envelope`](crate::Envelope)
    /// in the document. The outbox knows of a gateway's envelope only when told, with
    /// `Outbox::send_as_documented(&gateway)` (feature `delivery`).
    pub fn envelope(mut self, envelope: bool) -> Self {
        self.overrides = self.overrides.envelope(envelope);
        self
    }

    /// The names (as declared, before [`name`](Self::name)) of the webhooks this gateway
    /// sends in an envelope.
    #[cfg(feature = "delivery")]
    pub(crate) fn enveloped_events(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|def| def.envelope || self.overrides.envelope == Some(true))
            .map(|def| def.declared_name.clone())
            .collect()
    }

    /// The webhooks with the gateway's options applied.
    pub fn into_definitions(self) -> Result<Vec<WebhookDef>, Error> {
        let mut members: Vec<WebhookDef> = self
            .members
            .into_iter()
            .map(|def| def.with_group(&self.overrides))
            .collect();
        if let Some(name) = self.name {
            match members.as_mut_slice() {
                [only] => only.name = name,
                _ => {
                    return Err(Error::Gateway {
                        option: "name",
                        detail: format!(
                            "renames one webhook, but this gateway holds {}",
                            members.len()
                        ),
                    })
                }
            }
        }
        Ok(members)
    }
}

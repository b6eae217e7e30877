//! The portal's HTML, written with `maud`: every value spliced into a page is escaped by
//! the template engine, so a description like `<script>` shows as text.

use maud::{html, Markup, DOCTYPE};

use super::time::format_ms;
use crate::delivery::{MessageRecord, SubscriptionInfo};
use crate::management::catalogue::Event;
use crate::management::webhook_test;

/// What every page of a session needs.
pub(super) struct Page<'a> {
    pub(super) base: &'a str,
    pub(super) title: &'a str,
    /// The signed-in tenant; `None` on pages shown without a session.
    pub(super) tenant: Option<&'a str>,
    pub(super) csrf: &'a str,
}

/// What a customer typed into the endpoint form.
#[derive(Default)]
pub(super) struct EndpointForm {
    pub(super) url: String,
    pub(super) description: String,
    pub(super) events: Vec<String>,
    pub(super) filter: String,
}

/// Why the endpoint form was refused, field by field.
#[derive(Default)]
pub(super) struct FormErrors {
    pub(super) url: Option<String>,
    pub(super) events: Option<String>,
    /// The message and the 0-based character where the filter went wrong.
    pub(super) filter: Option<(String, usize)>,
    pub(super) general: Option<String>,
}

impl FormErrors {
    pub(super) fn any(&self) -> bool {
        self.url.is_some()
            || self.events.is_some()
            || self.filter.is_some()
            || self.general.is_some()
    }
}

impl Page<'_> {
    fn layout(&self, heading: &str, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (heading) " · " (self.title) }
                    link rel="stylesheet" href={ (self.base) "/assets/portal.css" };
                }
                body {
                    header {
                        strong { (self.title) }
                        @if let Some(tenant) = self.tenant {
                            nav {
                                a href=(self.base) { "Endpoints" }
                                a href={ (self.base) "/events" } { "Event catalogue" }
                            }
                            span.tenant { "Account: " (tenant) }
                            (self.button(&format!("{}/logout", self.base), "Sign out", "quiet"))
                        }
                    }
                    main {
                        h1 { (heading) }
                        (body)
                    }
                }
            }
        }
    }

    /// A small form with one button that posts `action` with the CSRF token.
    fn button(&self, action: &str, label: &str, class: &str) -> Markup {
        html! {
            form.inline method="post" action=(action) {
                input type="hidden" name="csrf" value=(self.csrf);
                button class=(class) type="submit" { (label) }
            }
        }
    }

    /// A page saying what went wrong, and nothing else.
    pub(super) fn failure(&self, heading: &str, message: &str) -> Markup {
        self.layout(heading, html! { p.error { (message) } })
    }

    /// The page the link opens: it moves on to the portal without the token in the URL.
    /// (A meta refresh, not a redirect: a cross-site redirect would not carry the
    /// `SameSite=Strict` cookie it has just set.)
    pub(super) fn signed_in(&self) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta http-equiv="refresh" content={ "0; url=" (self.base) };
                    title { (self.title) }
                }
                body { p { "Signed in. " a href=(self.base) { "Continue to your endpoints" } } }
            }
        }
    }

    pub(super) fn signed_out(&self) -> Markup {
        let page = Page {
            tenant: None,
            ..*self
        };
        page.layout(
            "Signed out",
            html! { p { "You are signed out of this browser." } },
        )
    }

    pub(super) fn endpoints(&self, endpoints: &[SubscriptionInfo], notice: Option<&str>) -> Markup {
        let body = html! {
            (notice_box(notice))
            p { a.button href={ (self.base) "/endpoints/new" } { "Add endpoint" } }
            @if endpoints.is_empty() {
                p { "No endpoints yet." }
            } @else {
                table {
                    thead { tr { th { "URL" } th { "Description" } th { "Events" } th { "State" } } }
                    tbody {
                        @for e in endpoints {
                            tr {
                                td { a href={ (self.base) "/endpoints/" (e.id) } { (e.url) } }
                                td { (e.description.as_deref().unwrap_or("")) }
                                td { (events_text(&e.events)) }
                                td { (state(e)) }
                            }
                        }
                    }
                }
            }
        };
        self.layout("Endpoints", body)
    }

    /// The form to add an endpoint (`id` `None`) or edit one.
    pub(super) fn endpoint_form(
        &self,
        id: Option<&str>,
        form: &EndpointForm,
        errors: &FormErrors,
        catalogue: &[Event],
    ) -> Markup {
        let action = match id {
            Some(id) => format!("{}/endpoints/{id}", self.base),
            None => format!("{}/endpoints", self.base),
        };
        html! {
            form.endpoint method="post" action=(action) {
                input type="hidden" name="csrf" value=(self.csrf);
                @if let Some(general) = &errors.general { p.error { (general) } }
                label for="url" { "URL" }
                input #url type="url" name="url" required value=(form.url) placeholder="https://example.com/webhooks";
                @if let Some(e) = &errors.url { p.error #url-error { (e) } }
                label for="description" { "Description" }
                input #description type="text" name="description" maxlength=(crate::delivery::MAX_DESCRIPTION) value=(form.description);
                fieldset {
                    legend { "Events (none checked: every event)" }
                    // The test event goes to one endpoint on request, never by subscription.
                    @for event in catalogue.iter().filter(|e| e.name != webhook_test::NAME) {
                        label.check {
                            input type="checkbox" name="events" value=(event.name)
                                checked[form.events.contains(&event.name)];
                            " " code { (event.name) }
                            @if let Some(summary) = &event.summary { " " span.muted { (summary) } }
                        }
                    }
                    @if let Some(e) = &errors.events { p.error { (e) } }
                }
                label for="filter" { "Filter (optional)" }
                input #filter type="text" name="filter" value=(form.filter)
                    placeholder=r#"entity.operation = "create""#;
                @if let Some((message, column)) = &errors.filter {
                    pre.error #filter-error {
                        (form.filter) "\n" (" ".repeat(*column)) "^ column " (column + 1) ": " (message)
                    }
                }
                button type="submit" { @if id.is_some() { "Save" } @else { "Add endpoint" } }
            }
        }
    }

    pub(super) fn new_endpoint(&self, form: Markup) -> Markup {
        self.layout("Add an endpoint", form)
    }

    /// The secret, shown once, after creation or rotation.
    pub(super) fn secret(&self, id: &str, secret: &str, rotated: bool) -> Markup {
        let body = html! {
            p.notice {
                @if rotated { "The secret was rotated. The old one keeps signing for 24 hours." }
                @else { "The endpoint was added." }
            }
            p { "Its signing secret, shown this once: copy it to your receiver now." }
            pre #secret { (secret) }
            p { a href={ (self.base) "/endpoints/" (id) } { "Continue to the endpoint" } }
        };
        self.layout("Signing secret", body)
    }

    pub(super) fn endpoint(
        &self,
        e: &SubscriptionInfo,
        edit: Markup,
        messages: &[MessageRecord],
        notice: Option<&str>,
    ) -> Markup {
        let here = format!("{}/endpoints/{}", self.base, e.id);
        let body = html! {
            (notice_box(notice))
            dl {
                dt { "URL" } dd #endpoint-url { (e.url) }
                dt { "Description" } dd #endpoint-description { (e.description.as_deref().unwrap_or("")) }
                dt { "Events" } dd { (events_text(&e.events)) }
                dt { "Filter" } dd { code { (e.filter.as_deref().unwrap_or("none")) } }
                dt { "State" } dd #endpoint-state { (state(e)) }
            }
            div.actions {
                @if e.enabled { (self.button(&format!("{here}/disable"), "Disable", "")) }
                @else { (self.button(&format!("{here}/enable"), "Enable", "")) }
                (self.button(&format!("{here}/test"), "Send a test event", ""))
                (self.button(&format!("{here}/rotate"), "Rotate secret", ""))
                (self.button(&format!("{here}/delete"), "Delete", "danger"))
            }
            h2 { "Recent messages" }
            form.inline method="post" action={ (here) "/replay" } {
                input type="hidden" name="csrf" value=(self.csrf);
                label for="since" { "Send again every message since (UTC) " }
                input #since type="datetime-local" name="since" required;
                " " button type="submit" { "Replay" }
            }
            @if messages.is_empty() { p { "No messages yet." } }
            @for m in messages { (self.message(&here, m)) }
            h2 { "Edit" }
            (edit)
        };
        self.layout("Endpoint", body)
    }

    fn message(&self, here: &str, m: &MessageRecord) -> Markup {
        let outcome = match m.attempts.last() {
            _ if m.pending => "pending",
            Some(a) if a.status_code.is_some_and(|s| (200..300).contains(&s)) => "delivered",
            Some(_) => "failed",
            None => "not sent",
        };
        html! {
            section.message data-outcome=(outcome) {
                h3 {
                    code { (m.event) } " · " (format_ms(m.created_at)) " UTC · "
                    span class={ "outcome " (outcome) } { (outcome) }
                }
                p.muted { "Message " code { (m.message_id) } }
                @if !m.attempts.is_empty() {
                    table {
                        thead { tr { th { "Attempted (UTC)" } th { "Status" } th { "Latency" } th { "Response" } } }
                        tbody {
                            @for a in &m.attempts {
                                tr {
                                    td { (format_ms(a.attempted_at)) }
                                    td.status {
                                        @match (a.status_code, &a.error) {
                                            (Some(code), _) => (code),
                                            (None, Some(error)) => (error),
                                            (None, None) => "no answer",
                                        }
                                    }
                                    td { (a.latency_ms) " ms" }
                                    td { pre.excerpt { (a.response_excerpt.as_deref().unwrap_or("")) } }
                                }
                            }
                        }
                    }
                }
                (self.button(&format!("{here}/messages/{}/resend", m.message_id), "Resend", ""))
            }
        }
    }

    pub(super) fn events(&self, catalogue: &[Event]) -> Markup {
        let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
        let body = html! {
            @for event in catalogue {
                section.event id={ "event-" (event.name) } {
                    h2 { code { (event.name) } }
                    @if let Some(summary) = &event.summary { p { strong { (summary) } } }
                    @if let Some(description) = &event.description { p { (description) } }
                    div.columns {
                        div {
                            h3 { "Payload schema" }
                            pre { (event.schema.as_ref().map(pretty).unwrap_or_else(|| "no body".into())) }
                        }
                        div {
                            h3 { "Example payload" }
                            pre.example { (event.example.as_ref().map(pretty).unwrap_or_else(|| "no body".into())) }
                        }
                    }
                }
            }
        };
        self.layout("Event catalogue", body)
    }
}

fn notice_box(notice: Option<&str>) -> Markup {
    html! { @if let Some(notice) = notice { p.notice role="status" { (notice) } } }
}

fn events_text(events: &[String]) -> String {
    if events.is_empty() {
        "every event".to_owned()
    } else {
        events.join(", ")
    }
}

fn state(e: &SubscriptionInfo) -> String {
    match (e.enabled, e.disabled_reason.as_deref()) {
        (true, _) => "enabled".to_owned(),
        (false, Some("gone")) => "disabled: the endpoint answered 410 Gone".to_owned(),
        (false, Some("failing")) => "disabled: every attempt failed for days".to_owned(),
        (false, _) => "disabled".to_owned(),
    }
}

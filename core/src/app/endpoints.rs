//! The served document: serialized once, answered from memory with an `ETag`.

use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::webhook_docs::{self, Links};
use super::AppError;

/// The webhook reference page allows its own stylesheet and nothing else: no script at all.
const WEBHOOK_DOCS_CSP: &str =
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'";

/// Where the document and the docs pages are served. Each can be moved or switched off.
///
/// `/docs` is Swagger UI, vendored into the binary: it loads nothing from the network. It reads
/// the document from the JSON endpoint, so it needs that one on. Swagger UI shows webhooks for
/// OpenAPI 3.1 documents (which hookspec always produces) but does not group them by tag.
///
/// `/webhook-docs` is hookspec's webhook reference: the webhooks grouped by tag, each with an
/// example payload and, when deliveries are signed, how a receiver verifies them. It is plain
/// HTML rendered once from the document, with one stylesheet at `/webhook-docs/style.css`
/// and no JavaScript.
#[derive(Clone, Debug)]
pub struct Endpoints {
    json: Option<String>,
    yaml: Option<String>,
    docs: Option<String>,
    webhook_docs: Option<String>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            json: Some("/openapi.json".into()),
            yaml: Some("/openapi.yaml".into()),
            docs: Some("/docs".into()),
            webhook_docs: Some("/webhook-docs".into()),
        }
    }
}

impl Endpoints {
    /// Serves the JSON document at `path` (default `/openapi.json`); `None` switches it off.
    pub fn json(mut self, path: Option<&str>) -> Self {
        self.json = path.map(str::to_owned);
        self
    }

    /// Serves the YAML document at `path` (default `/openapi.yaml`); `None` switches it off.
    pub fn yaml(mut self, path: Option<&str>) -> Self {
        self.yaml = path.map(str::to_owned);
        self
    }

    /// Serves Swagger UI at `path` (default `/docs`); `None` switches it off.
    pub fn docs(mut self, path: Option<&str>) -> Self {
        self.docs = path.map(str::to_owned);
        self
    }

    /// Serves the webhook reference at `path` (default `/webhook-docs`) and its stylesheet at
    /// `{path}/style.css`; `None` switches both off.
    pub fn webhook_docs(mut self, path: Option<&str>) -> Self {
        self.webhook_docs = path.map(str::to_owned);
        self
    }

    /// The webhook reference's stylesheet, under its page.
    fn stylesheet(&self) -> Option<String> {
        let page = self.webhook_docs.as_ref()?;
        Some(format!("{}/style.css", page.trim_end_matches('/')))
    }

    fn check(&self) -> Result<(), AppError> {
        let paths = [
            ("json", &self.json),
            ("yaml", &self.yaml),
            ("docs", &self.docs),
            ("webhook docs", &self.webhook_docs),
        ];
        let paths: Vec<(&str, &String)> = paths
            .iter()
            .filter_map(|(k, p)| p.as_ref().map(|p| (*k, p)))
            .collect();
        for (kind, path) in &paths {
            if !path.starts_with('/')
                || path.contains(['{', '}', '*', '?', '#'])
                || path.contains(char::is_whitespace)
            {
                return Err(AppError::Config(format!(
                    "the {kind} endpoint path `{path}` must be a plain absolute path like `/openapi.json`"
                )));
            }
        }
        for (i, (kind, path)) in paths.iter().enumerate() {
            if let Some((other, _)) = paths[i + 1..].iter().find(|(_, p)| p == path) {
                return Err(AppError::Config(format!(
                    "the {kind} and {other} endpoints both use `{path}`"
                )));
            }
        }
        if self.docs.is_some() && self.json.is_none() {
            return Err(AppError::Config(
                "the docs page reads the JSON document: switch the JSON endpoint on or the docs off".into(),
            ));
        }
        Ok(())
    }

    /// The router serving the endpoints that are on. Fails if one collides with a documented path.
    pub(crate) fn router(&self, doc: &OpenApi) -> Result<Router, AppError> {
        self.check()?;
        let stylesheet = self.stylesheet();
        let served_paths = [
            &self.json,
            &self.yaml,
            &self.docs,
            &self.webhook_docs,
            &stylesheet,
        ];
        for path in served_paths.into_iter().flatten() {
            if doc.paths.paths.contains_key(path) {
                return Err(AppError::RouteConflict(format!("`{path}` is both a documented route and a hookspec endpoint; move the endpoint with `Endpoints`")));
            }
        }
        let mut router = Router::new();
        if let Some(path) = &self.json {
            let json = doc
                .to_pretty_json()
                .map_err(|e| AppError::Config(e.to_string()))?;
            router = router.route(path, served(json, "application/json"));
        }
        if let Some(path) = &self.yaml {
            let yaml = doc.to_yaml().map_err(|e| AppError::Config(e.to_string()))?;
            router = router.route(path, served(yaml, "application/yaml"));
        }
        if let (Some(path), Some(json)) = (&self.docs, &self.json) {
            router = router.merge(SwaggerUi::new(path.clone()).config(Config::new([json.clone()])));
        }
        if let (Some(path), Some(stylesheet)) = (&self.webhook_docs, &stylesheet) {
            let doc = serde_json::to_value(doc).map_err(|e| AppError::Config(e.to_string()))?;
            let links = Links {
                stylesheet,
                json: self.json.as_deref(),
                swagger_ui: self.docs.as_deref(),
            };
            let page = webhook_docs::render(&doc, &links);
            let headers = vec![
                (
                    CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(WEBHOOK_DOCS_CSP),
                ),
                (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            ];
            let pages = Router::new()
                .route(path, served_with(page, "text/html; charset=utf-8", headers))
                .route(
                    stylesheet,
                    served(
                        webhook_docs::STYLESHEET.to_owned(),
                        "text/css; charset=utf-8",
                    ),
                );
            // Swagger UI answers everything under its path, yet a static route wins there
            // (`/docs/webhooks` works); a route of its own (`/docs/`) clashes: an error, not a panic.
            router = super::merge_routers(router, pages)?;
        }
        Ok(router)
    }
}

/// A document answered from memory: `200` with an `ETag`, or `304` when the client has it.
struct Served {
    body: axum::body::Bytes,
    etag: HeaderValue,
    content_type: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn served(text: String, content_type: &'static str) -> axum::routing::MethodRouter {
    served_with(text, content_type, Vec::new())
}

/// [`served`], with more response headers (a Content-Security-Policy).
fn served_with(
    text: String,
    content_type: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> axum::routing::MethodRouter {
    let mut hasher = DefaultHasher::new();
    hasher.write(text.as_bytes());
    let etag = format!("\"{:x}-{:016x}\"", text.len(), hasher.finish());
    let served = Arc::new(Served {
        etag: HeaderValue::from_str(&etag).expect("hex digits are a valid header value"),
        body: text.into(),
        content_type,
        headers,
    });
    get(move |headers: HeaderMap| {
        let served = Arc::clone(&served);
        async move { served.respond(&headers) }
    })
}

impl Served {
    fn respond(&self, headers: &HeaderMap) -> Response {
        let cache = [
            (ETAG, self.etag.clone()),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ];
        if matches_etag(headers, &self.etag) {
            return (StatusCode::NOT_MODIFIED, cache).into_response();
        }
        let mut response = (
            cache,
            [(CONTENT_TYPE, self.content_type)],
            self.body.clone(),
        )
            .into_response();
        response.headers_mut().extend(self.headers.iter().cloned());
        response
    }
}

/// `If-None-Match` uses the weak comparison (RFC 9110, 13.1.2): `W/` prefixes are ignored.
fn matches_etag(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/").as_bytes() == ours
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let etag = HeaderValue::from_static("\"a-1\"");
        let mut headers = HeaderMap::new();
        assert!(!matches_etag(&headers, &etag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"a-1\""));
        assert!(matches_etag(&headers, &etag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"a-2\""));
        assert!(!matches_etag(&headers, &etag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches_etag(&headers, &etag));
    }

    #[test]
    fn bad_endpoint_settings_name_the_problem() {
        let err = Endpoints::default()
            .json(Some("openapi.json"))
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("`openapi.json`"), "{err}");
        let err = Endpoints::default()
            .yaml(Some("/openapi.json"))
            .check()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("json and yaml endpoints both use `/openapi.json`"),
            "{err}"
        );
        let err = Endpoints::default().json(None).check().unwrap_err();
        assert!(
            err.to_string()
                .contains("docs page reads the JSON document"),
            "{err}"
        );
        Endpoints::default().json(None).docs(None).check().unwrap();
    }
}

//! [`App`]: ordinary axum routes and declared webhooks in one server, with the document served
//! as `/openapi.json`, `/openapi.yaml`, an interactive, offline `/docs` page (Swagger UI) and a
//! webhook reference grouped by tag at `/webhook-docs`.

mod endpoints;
mod server;
mod webhook_docs;

use std::panic::{catch_unwind, AssertUnwindSafe};

use axum::Router;
use utoipa::openapi::security::SecurityScheme;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use endpoints::Endpoints;
pub use server::BoundApp;

use crate::{OpenApiBuilder, WebhookGateway};

/// Why an [`App`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The document could not be built (duplicate webhooks, schema clashes, ...).
    #[error("the OpenAPI document could not be built: {0}")]
    Document(#[from] crate::Error),
    /// An endpoint setting is invalid.
    #[error("invalid endpoint configuration: {0}")]
    Config(String),
    /// Two routes claim the same path and method.
    #[error("route conflict: {0}")]
    RouteConflict(String),
    /// The listening address could not be bound (e.g. the port is taken).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// An axum application whose ordinary routes and declared webhooks share one OpenAPI document.
///
/// ```no_run
/// # async fn run() -> Result<(), hookspec::AppError> {
/// hookspec::App::new("Payments", "1.0.0")
///     .router(axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" })))
///     .serve("127.0.0.1:8000")
///     .await
/// # }
/// ```
#[must_use]
pub struct App {
    builder: OpenApiBuilder,
    documented: Vec<OpenApiRouter>,
    plain: Vec<Router>,
    endpoints: Endpoints,
    #[cfg(feature = "management")]
    management: Option<(
        crate::delivery::Outbox,
        std::sync::Arc<dyn crate::management::Authenticate>,
    )>,
    #[cfg(feature = "portal")]
    portal: Option<(crate::delivery::Outbox, crate::portal::Portal)>,
}

impl App {
    /// An app whose document is titled `title` at API version `version`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        App {
            builder: OpenApiBuilder::new(title, version),
            documented: Vec::new(),
            plain: Vec::new(),
            endpoints: Endpoints::default(),
            #[cfg(feature = "management")]
            management: None,
            #[cfg(feature = "portal")]
            portal: None,
        }
    }

    /// Starts the document from an existing one, e.g. a `#[derive(utoipa::OpenApi)]` type's
    /// `openapi()`. Its title and version are replaced by the app's.
    pub fn base(mut self, doc: OpenApi) -> Self {
        self.builder.replace_base(doc);
        self
    }

    /// Ordinary routes that are served and documented in `paths`.
    pub fn routes(mut self, routes: OpenApiRouter) -> Self {
        self.documented.push(routes);
        self
    }

    /// Ordinary routes that are served but not documented.
    pub fn router(mut self, router: Router) -> Self {
        self.plain.push(router);
        self
    }

    /// Adds the webhooks of a gateway to the document.
    pub fn webhook(mut self, gateway: WebhookGateway) -> Self {
        self.builder = self.builder.webhook(gateway);
        self
    }

    /// Adds a security scheme that operations and webhooks can require.
    pub fn security_scheme(mut self, name: impl Into<String>, scheme: SecurityScheme) -> Self {
        self.builder = self.builder.security_scheme(name, scheme);
        self
    }

    /// Documents the Standard Webhooks signature headers on every webhook (see
    /// [`OpenApiBuilder::signed_webhooks`]); use it when the outbox delivers them.
    pub fn signed_webhooks(mut self) -> Self {
        self.builder = self.builder.signed_webhooks();
        self
    }

    /// Mounts the subscription-management API under `/webhooks` (documented in `paths`, with
    /// a `bearer` security scheme), on `outbox`, authenticating callers with `auth`.
    #[cfg(feature = "management")]
    pub fn webhook_management(
        mut self,
        outbox: crate::delivery::Outbox,
        auth: impl crate::management::Authenticate,
    ) -> Self {
        self.management = Some((outbox, std::sync::Arc::new(auth)));
        self
    }

    /// Mounts the customers' endpoint portal (see [`crate::portal`]) at the portal's path
    /// (default `/webhooks/portal`), on `outbox`: each customer, signed in by a link from
    /// [`Portal::link`](crate::portal::Portal::link), manages its own tenant's endpoints.
    /// The pages are served, not documented.
    #[cfg(feature = "portal")]
    pub fn webhook_portal(
        mut self,
        outbox: crate::delivery::Outbox,
        portal: crate::portal::Portal,
    ) -> Self {
        self.portal = Some((outbox, portal));
        self
    }

    /// Sets where the document and the docs pages are served; see [`Endpoints`].
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// The document alone, as the server would serve it.
    pub fn openapi(self) -> Result<OpenApi, AppError> {
        self.into_parts().map(|(_, doc)| doc)
    }

    /// The axum router with every route and endpoint, for your own server. The document is
    /// built and serialized here, once; a bad configuration is an error before anything binds.
    pub fn into_router(self) -> Result<Router, AppError> {
        let endpoints = self.endpoints.clone();
        let (router, doc) = self.into_parts()?;
        let served = endpoints.router(&doc)?;
        merge_routers(router, served)
    }

    /// Binds `addr` (e.g. `"127.0.0.1:8000"`), ready to [`run`](BoundApp::run).
    pub async fn bind(self, addr: &str) -> Result<BoundApp, AppError> {
        let router = self.into_router()?;
        BoundApp::bind(router, addr).await
    }

    /// Serves on `addr` until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn serve(self, addr: &str) -> Result<(), AppError> {
        self.bind(addr).await?.run().await
    }

    // Only the management API and the portal change the app on their way out.
    #[cfg_attr(not(feature = "management"), allow(unused_mut))]
    fn into_parts(mut self) -> Result<(Router, OpenApi), AppError> {
        // The event catalogue, read once from the finished document, for whichever of the
        // management API and the portal is mounted.
        #[cfg(feature = "management")]
        let mut catalogues = Vec::new();
        #[cfg(feature = "portal")]
        if let Some((outbox, portal)) = self.portal.take() {
            let (routes, cell) = crate::portal::router(outbox, portal);
            self.plain.push(routes);
            // The portal sends the test event the management API documents.
            if self.management.is_none() {
                self.builder = self
                    .builder
                    .webhook(WebhookGateway::new(crate::management::webhook_test));
            }
            catalogues.push(cell);
        }
        #[cfg(feature = "management")]
        if let Some((outbox, auth)) = self.management.take() {
            let (routes, cell) = crate::management::router(outbox, auth);
            self.documented.push(routes);
            let bearer = utoipa::openapi::security::HttpBuilder::new()
                .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                .build();
            self.builder = self
                .builder
                .security_scheme("bearer", SecurityScheme::Http(bearer))
                .webhook(WebhookGateway::new(crate::management::webhook_test));
            catalogues.push(cell);
        }
        let mut router = Router::new();
        let mut routes_doc = OpenApi::default();
        for documented in self.documented {
            let (part, doc) = documented.split_for_parts();
            crate::merge(&mut routes_doc, doc)?;
            router = merge_routers(router, part)?;
        }
        for plain in self.plain {
            router = merge_routers(router, plain)?;
        }
        let doc = self.builder.merge(routes_doc).build()?;
        #[cfg(feature = "management")]
        crate::management::publish_catalogue(&catalogues, &doc);
        Ok((router, doc))
    }
}

/// axum panics when two routers claim the same route; here that is an error, not a crash.
fn merge_routers(a: Router, b: Router) -> Result<Router, AppError> {
    catch_unwind(AssertUnwindSafe(|| a.merge(b))).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "two routers define the same route".to_owned());
        AppError::RouteConflict(message)
    })
}

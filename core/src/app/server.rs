//! Binding and serving with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

use super::AppError;

/// An [`App`](super::App) bound to its address, not yet serving.
pub struct BoundApp {
    listener: TcpListener,
    router: Router,
}

impl BoundApp {
    pub(crate) async fn bind(router: Router, addr: &str) -> Result<Self, AppError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        Ok(BoundApp { listener, router })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, AppError> {
        self.listener.local_addr().map_err(AppError::Serve)
    }

    /// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish.
    pub async fn run(self) -> Result<(), AppError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then lets requests in flight finish.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(signal)
            .await
            .map_err(AppError::Serve)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, wait for the other signal only.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

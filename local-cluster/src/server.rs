//! HTTPS (HTTP/1.1 and HTTP/2 by ALPN) on a TCP listener until shutdown.

use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Whether the API server is answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    /// Listening and answering.
    On,
    /// Stopped for a while: the listener closed and every connection dropped, as when a control
    /// plane goes away; the nodes and their pods keep running. `On` listens again on the same
    /// address.
    Off,
    /// Stopped for good.
    ShutDown,
}

/// Serves `router` over TLS on `listener` while `power` is `On`. `Off` closes the listener and
/// every connection (watches included) until it is `On` again; `ShutDown` closes them and returns.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    mut power: watch::Receiver<Power>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let address = listener.local_addr().ok();
    let mut listener = Some(listener);
    loop {
        if let Some(listener) = listener.take() {
            serve_while_on(listener, &acceptor, &router, &mut power).await;
        }
        loop {
            match *power.borrow_and_update() {
                Power::On => break,
                Power::ShutDown => return,
                Power::Off => {}
            }
            if power.changed().await.is_err() {
                return;
            }
        }
        let Some(address) = address else { return };
        // The port was ours a moment ago; a client's connection in TIME_WAIT does not hold it
        // (the listener sets SO_REUSEADDR), but try again rather than give up on a hiccup.
        for attempt in 0.. {
            match TcpListener::bind(address).await {
                Ok(bound) => {
                    tracing::info!(%address, "API server listening again");
                    listener = Some(bound);
                    break;
                }
                Err(e) => {
                    if attempt % 20 == 0 {
                        tracing::warn!(%address, error = %e, "cannot listen again yet; retrying");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }
}

async fn serve_while_on(
    listener: TcpListener,
    acceptor: &TlsAcceptor,
    router: &Router,
    power: &mut watch::Receiver<Power>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            changed = power.changed() => {
                if changed.is_err() || *power.borrow_and_update() != Power::On {
                    break;
                }
            }
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(router.clone());
                connections.spawn(async move {
                    let stream = match acceptor.accept(tcp).await {
                        Ok(stream) => stream,
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                    };
                    let builder = Builder::new(TokioExecutor::new());
                    if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

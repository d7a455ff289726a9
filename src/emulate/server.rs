//! The emulator's HTTP server: takes a bound listener and a shutdown future, one task per
//! connection, every call logged with its answer's status.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;

use super::http::{ApiRequest, Reply};
use super::{control, Emulator, Provider};

/// The largest API request body read.
pub const MAX_BODY: usize = 1024 * 1024;

/// Serves `listener` until `shutdown` resolves, then waits (briefly) for calls in flight.
pub async fn serve(listener: TcpListener, emu: Arc<Emulator>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .keep_alive(true);
    let host = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (emu, host) = (emu.clone(), host.clone());
        let service = service_fn(move |request| {
            let (emu, host) = (emu.clone(), host.clone());
            async move { Ok::<_, std::convert::Infallible>(answer(&emu, request, &host).await) }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, "connection ended: {err}");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    connections.shutdown().await;
}

async fn answer(
    emu: &Emulator,
    request: hyper::Request<Incoming>,
    host: &str,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let shown_path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let reply = match Limited::new(body, MAX_BODY).collect().await {
        Err(_) => Reply::json(
            413,
            json!({"detail": format!("the request body is over {MAX_BODY} bytes or broken off")}),
        ),
        Ok(body) => {
            let req = ApiRequest {
                method: parts.method,
                path: parts.uri.path().to_string(),
                query: parts.uri.query().map(str::to_string),
                headers: parts.headers,
                body: body.to_bytes(),
            };
            let handled = if req.path == control::PATH {
                control::handle(emu, &req).await
            } else {
                match emu.provider {
                    Provider::Avala => super::avala::handle(emu, &req, host).await,
                    Provider::Infermedica => super::infermedica::handle(emu, &req).await,
                }
            };
            handled.unwrap_or_else(|err| {
                tracing::error!("{method} {shown_path}: {err:#}");
                Reply::json(
                    500,
                    json!({"detail": format!("the emulator failed: {err:#}")}),
                )
            })
        }
    };
    emu.log.api(method.as_str(), &shown_path, reply.status);
    reply.into_hyper()
}

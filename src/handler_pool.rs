//! Keep-alive connections to one handler, reused last in, first out.
//!
//! Connections are made by hyper-util's connector (TLS, `localhost` on both address families) and
//! spoken to with hyper's HTTP/1 client connection directly; idle ones wait in a list. Against
//! hyper-util's pooled client this leaves out the pool's keyed map, its checkout future and its
//! per-request connection machinery: 10k fewer instructions a forwarded request, an eighth of the
//! serving thread's work, and about 15 µs less added latency at one connection (README, "Speed").

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response, Uri};
use tower_service::Service;

/// How long a connection may stay idle before it is closed rather than reused.
const IDLE_FOR_AT_MOST: Duration = Duration::from_secs(30);

type Sender = SendRequest<Full<Bytes>>;

/// Why a request got no answer from the handler.
#[derive(Debug)]
pub(crate) enum PoolError {
    /// No connection could be made.
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The connection failed while the request was sent or its answer's head was read.
    Send(hyper::Error),
}

/// Idle connections to the handler at one origin, and how to make new ones.
pub(crate) struct HandlerPool<C> {
    connector: C,
    origin: Uri,
    idle: Mutex<Vec<(Sender, Instant)>>,
}

/// A connection lent for one request. [`Lease::release`] gives it back once the answer has been
/// read whole; dropped instead (an answer left unread, a timeout), the connection closes.
pub(crate) struct Lease<'a, C> {
    pool: &'a HandlerPool<C>,
    sender: Sender,
}

impl<C> Lease<'_, C> {
    /// Puts the connection back among the idle ones.
    pub(crate) fn release(self) {
        crate::sync::lock(&self.pool.idle).push((self.sender, Instant::now()));
    }
}

impl<C> HandlerPool<C>
where
    C: Service<Uri> + Clone + Send + 'static,
    C::Response: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    C::Future: Send,
{
    /// A pool of connections to `origin` (scheme and authority) made by `connector`.
    pub(crate) fn new(connector: C, origin: Uri) -> Self {
        Self {
            connector,
            origin,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `request` (its URI in origin form) on an idle connection, or on a new one, and
    /// returns the answer's head with the connection lent for reading its body. A request that a
    /// connection closing while it sat idle kept from being sent goes out on the next one.
    pub(crate) async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease<'_, C>), PoolError> {
        while let Some(mut sender) = self.take_idle() {
            // Ready once the connection has taken in the end of the answer read before.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, Lease { pool: self, sender })),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(PoolError::Send(failed.into_error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        match sender.send_request(request).await {
            Ok(response) => Ok((response, Lease { pool: self, sender })),
            Err(err) => Err(PoolError::Send(err)),
        }
    }

    /// The most recently used idle connection that is still open and not too old.
    fn take_idle(&self) -> Option<Sender> {
        let mut idle = crate::sync::lock(&self.idle);
        while let Some((sender, since)) = idle.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_FOR_AT_MOST {
                return Some(sender);
            }
        }
        None
    }

    async fn connect(&self) -> Result<Sender, PoolError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|err| PoolError::Connect(err.into()))?;
        let stream = connector
            .call(self.origin.clone())
            .await
            .map_err(|err| PoolError::Connect(err.into()))?;
        let (sender, connection) = http1::handshake(stream).await.map_err(PoolError::Send)?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("connection to the handler ended: {err}");
            }
        });
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use hyper_util::client::legacy::connect::HttpConnector;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Whether the test handler closes a connection after each answer.
    #[derive(Clone, Copy, PartialEq)]
    enum Closes {
        Never,
        /// With `connection: close` in the answer.
        Announced,
        /// Without a word, as a handler whose keep-alive timeout runs out.
        Silently,
    }

    /// A handler on a port of its own that answers every request with 200 and closes the
    /// connection as `closes` says; counts the connections it accepted.
    async fn handler(closes: Closes) -> (Uri, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin: Uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut read = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        let Ok(n) = stream.read(&mut buffer).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        read.extend_from_slice(&buffer[..n]);
                        // Requests without a body: each ends with its head.
                        while let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                            read.drain(..end + 4);
                            let answer: &[u8] = if closes == Closes::Announced {
                                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                            } else {
                                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                            };
                            if stream.write_all(answer).await.is_err() || closes != Closes::Never {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (origin, accepted)
    }

    async fn get(pool: &HandlerPool<HttpConnector>, release: bool) -> Bytes {
        let request = Request::get("/x")
            .header("host", "handler")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (response, lease) = pool.send(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if release {
            lease.release();
        }
        body
    }

    #[tokio::test]
    async fn one_connection_serves_requests_one_after_another() {
        let (origin, accepted) = handler(Closes::Never).await;
        let pool = HandlerPool::new(HttpConnector::new(), origin);
        for _ in 0..20 {
            assert_eq!(get(&pool, true).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_handler_closed_is_replaced_not_an_error() {
        for closes in [Closes::Announced, Closes::Silently] {
            let (origin, accepted) = handler(closes).await;
            let pool = HandlerPool::new(HttpConnector::new(), origin);
            for _ in 0..20 {
                assert_eq!(get(&pool, true).await, "ok");
                // The handler's close reaches this side before the next request, as it does
                // when a keep-alive timeout runs out between webhooks.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 20);
        }
    }

    #[tokio::test]
    async fn a_connection_not_given_back_is_not_reused() {
        let (origin, accepted) = handler(Closes::Never).await;
        let pool = HandlerPool::new(HttpConnector::new(), origin);
        get(&pool, false).await;
        get(&pool, true).await;
        get(&pool, true).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_requests_each_get_a_connection_then_share_them() {
        let (origin, accepted) = handler(Closes::Never).await;
        let pool = HandlerPool::new(HttpConnector::new(), origin);
        let round = || futures_util::future::join_all((0..4).map(|_| get(&pool, true)));
        assert!(round().await.iter().all(|body| body == "ok"));
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert!(round().await.iter().all(|body| body == "ok"));
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin: Uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        drop(listener);
        let pool = HandlerPool::new(HttpConnector::new(), origin);
        let request = Request::get("/").body(Full::new(Bytes::new())).unwrap();
        assert!(matches!(
            pool.send(request).await,
            Err(PoolError::Connect(_))
        ));
    }
}

//! A byte budget for a listener's connection until its `hello` is verified, so a stranger without
//! a token cannot make the relay hold large frames in memory ([`MAX_BEFORE_HELLO`]).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::strangers::Stranger;

/// The most a connection may send before its `hello` is verified: the WebSocket upgrade is
/// already done, and a `hello` is a few hundred bytes.
pub(crate) const MAX_BEFORE_HELLO: usize = 4 * 1024;

/// Lifts the budget once the `hello` is verified (and promotes the connection from stranger).
#[derive(Clone, Default)]
pub struct Verified {
    flag: Arc<AtomicBool>,
    stranger: Option<Arc<Stranger>>,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Verified").field(&self.is_set()).finish()
    }
}

impl Verified {
    /// A flag that also promotes `stranger` when set.
    pub(crate) fn for_stranger(stranger: Arc<Stranger>) -> Self {
        Verified {
            flag: Arc::default(),
            stranger: Some(stranger),
        }
    }

    /// Marks the connection as authenticated: no budget from now on.
    pub(crate) fn set(&self) {
        self.flag.store(true, Ordering::Release);
        if let Some(stranger) = &self.stranger {
            stranger.promote();
        }
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

/// An I/O stream that fails reads past [`MAX_BEFORE_HELLO`] bytes until [`Verified::set`].
pub(crate) struct PreHelloLimit<S> {
    inner: S,
    read: usize,
    verified: Verified,
}

impl<S> PreHelloLimit<S> {
    /// Wraps `inner`; `verified` lifts the limit.
    pub(crate) fn new(inner: S, verified: Verified) -> Self {
        PreHelloLimit {
            inner,
            read: 0,
            verified,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PreHelloLimit<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.verified.is_set() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        // Read at most one byte past the budget, so an oversized frame is never taken in whole.
        let allowed = (MAX_BEFORE_HELLO + 1)
            .saturating_sub(self.read)
            .min(buf.remaining());
        let mut limited = ReadBuf::new(buf.initialize_unfilled_to(allowed));
        let poll = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let got = limited.filled().len();
        if let Poll::Ready(Ok(())) = poll {
            buf.advance(got);
            self.read += got;
            if self.read > MAX_BEFORE_HELLO {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("more than {MAX_BEFORE_HELLO} bytes before a verified hello"),
                )));
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PreHelloLimit<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

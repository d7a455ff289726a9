//! The HTTP edge shared by the capture server and the relay: accepting connections, converting
//! headers, and reading a body within a size and a time bound.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::HeaderMap;
use tokio::net::{TcpListener, TcpStream};

use crate::model::HeaderList;

/// The next connection on `listener`. A failed accept (out of file descriptors, say) is logged
/// and retried after a short pause rather than ending the server.
pub async fn next_connection(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            Err(err) => {
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The headers in arrival order, repeats kept, values as raw bytes.
pub fn header_list(headers: &HeaderMap) -> HeaderList {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// The `Content-Length` a request declares, if it is a number.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over the size limit (declared or sent).
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    /// Not all there within the time limit.
    #[error("the body did not arrive within {0:?}")]
    Late(Duration),
    /// The client's framing is malformed (a bad chunk size, say).
    #[error("the body is malformed ({0})")]
    Malformed(String),
    /// The client went away mid-body.
    #[error("the client stopped sending the body: {0}")]
    Broken(String),
}

/// Reads a whole body of at most `max` bytes within `timeout`, refusing at once one whose
/// declared length is already over `max`.
pub async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    if declared_length(headers).is_some_and(|len| len > max as u64) {
        return Err(BodyError::TooLarge(max));
    }
    let read = tokio::time::timeout(timeout, Limited::new(body, max).collect())
        .await
        .map_err(|_| BodyError::Late(timeout))?;
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge(max))
        }
        Err(err) if malformed(err.as_ref()) => Err(BodyError::Malformed(err.to_string())),
        Err(err) => Err(BodyError::Broken(err.to_string())),
    }
}

/// Whether a body error is the client's malformed framing rather than the client going away.
fn malformed(err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            );
        }
        if current
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse)
        {
            return true;
        }
        cause = current.source();
    }
    false
}

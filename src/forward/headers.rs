//! Which of a request's or an answer's headers a proxy passes on, and copying them onto the
//! request sent to the handler.

use hyper::header::{HeaderName, HeaderValue};

use crate::model::HeaderList;

/// Headers that describe one connection, not the message, and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Drops hop-by-hop headers, and any header the `Connection` header names.
pub(crate) fn end_to_end_headers(headers: &[(String, Vec<u8>)]) -> HeaderList {
    end_to_end(|| headers.iter())
        .map(|header| header.owned())
        .collect()
}

/// A header's name and value, borrowed for `'a` from wherever the header list lives.
pub(super) trait Header<'a> {
    fn name(&self) -> &'a str;
    fn value(&self) -> &'a [u8];
    /// The name and value as hyper sends them.
    fn to_hyper(&self) -> anyhow::Result<(HeaderName, HeaderValue)>;

    /// The name and value as a header list holds them.
    fn owned(&self) -> (String, Vec<u8>) {
        (self.name().to_string(), self.value().to_vec())
    }
}

/// As hyper parsed it: sent as it is.
impl<'a> Header<'a> for (&'a HeaderName, &'a HeaderValue) {
    fn name(&self) -> &'a str {
        self.0.as_str()
    }
    fn value(&self) -> &'a [u8] {
        self.1.as_bytes()
    }
    fn to_hyper(&self) -> anyhow::Result<(HeaderName, HeaderValue)> {
        Ok((self.0.clone(), self.1.clone()))
    }
}

/// As stored (a replay, the relay, a fixture): checked and parsed again.
impl<'a> Header<'a> for &'a (String, Vec<u8>) {
    fn name(&self) -> &'a str {
        &self.0
    }
    fn value(&self) -> &'a [u8] {
        &self.1
    }
    fn to_hyper(&self) -> anyhow::Result<(HeaderName, HeaderValue)> {
        Ok((
            HeaderName::from_bytes(self.0.as_bytes())?,
            HeaderValue::from_bytes(&self.1)?,
        ))
    }
}

/// The end-to-end headers among those `headers()` iterates: hop-by-hop ones, and any the
/// `Connection` header names, left out.
pub(super) fn end_to_end<'a, H, I, F>(headers: F) -> impl Iterator<Item = H> + use<'a, H, I, F>
where
    H: Header<'a>,
    I: Iterator<Item = H>,
    F: Fn() -> I,
{
    let named_by_connection: Vec<&[u8]> = headers()
        .filter(|header| header.name().eq_ignore_ascii_case("connection"))
        .flat_map(|header| header.value().split(|&b| b == b',').map(<[u8]>::trim_ascii))
        .collect();
    headers().filter(move |header| {
        let name = header.name();
        !HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop))
            && !named_by_connection
                .iter()
                .any(|named| named.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// What a proxy rewrites, as the sender gave it.
#[derive(Default)]
pub(super) struct SentThrough<'a> {
    pub original_host: Option<&'a [u8]>,
    pub forwarded_for: Option<&'a [u8]>,
    pub forwarded_proto: Option<&'a [u8]>,
}

/// Appends the end-to-end headers of `headers()` to `outgoing` but those a proxy rewrites, which
/// it returns, and `Content-Length` (that of the body actually sent, whatever a fixture or relay
/// said).
pub(super) fn copy_end_to_end<'a, H, I>(
    headers: impl Fn() -> I,
    outgoing: &mut hyper::HeaderMap,
) -> anyhow::Result<SentThrough<'a>>
where
    H: Header<'a>,
    I: Iterator<Item = H>,
{
    let mut sent_through = SentThrough::default();
    for header in end_to_end(headers) {
        match header.name() {
            "content-length" => {}
            "host" => sent_through.original_host = Some(header.value()),
            "x-forwarded-for" => sent_through.forwarded_for = Some(header.value()),
            "x-forwarded-proto" => sent_through.forwarded_proto = Some(header.value()),
            _ => {
                let (name, value) = header.to_hyper()?;
                outgoing.append(name, value);
            }
        }
    }
    Ok(sent_through)
}

//! Bodies as they were meant to be read: `Content-Encoding: gzip|deflate` undone for display.
//! Forwarding and storage always keep the bytes as sent.

use std::borrow::Cow;
use std::io::Read as _;

use crate::inert;
use crate::model::find_header;
use crate::output::human_size;

/// The most decoded bytes a compressed body is inflated to for display.
pub const MAX_DECODED: usize = 32 * 1024 * 1024;

/// A body after content decoding.
pub struct Decoded<'a> {
    /// The bytes to show.
    pub bytes: Cow<'a, [u8]>,
    /// How they were decoded, e.g. `gzip: 312 B → 1.2 kB`, or why they could not be.
    pub note: Option<String>,
}

/// Undoes `Content-Encoding: gzip|deflate` (or a gzip body without the header) for display.
pub fn decode<'a>(headers: &[(String, Vec<u8>)], body: &'a [u8]) -> Decoded<'a> {
    let declared = find_header(headers, "content-encoding")
        .map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase());
    let gzip_magic = body.starts_with(&[0x1f, 0x8b]);
    let kind = match declared.as_deref() {
        Some("gzip" | "x-gzip") => "gzip",
        Some("deflate") => "deflate",
        _ if gzip_magic => "gzip",
        _ => {
            return Decoded {
                bytes: Cow::Borrowed(body),
                note: None,
            }
        }
    };
    let mut out = Vec::new();
    let result = match kind {
        "gzip" => flate2::read::MultiGzDecoder::new(body)
            .take(MAX_DECODED as u64 + 1)
            .read_to_end(&mut out),
        _ => flate2::read::ZlibDecoder::new(body)
            .take(MAX_DECODED as u64 + 1)
            .read_to_end(&mut out),
    };
    match result {
        Ok(_) if out.len() > MAX_DECODED => Decoded {
            note: Some(format!(
                "{kind}: decoded only the first {} for display",
                human_size(MAX_DECODED as u64)
            )),
            bytes: Cow::Owned({
                out.truncate(MAX_DECODED);
                out
            }),
        },
        Ok(_) => Decoded {
            note: Some(format!(
                "{kind}: {} → {} decoded",
                human_size(body.len() as u64),
                human_size(out.len() as u64)
            )),
            bytes: Cow::Owned(out),
        },
        Err(err) => Decoded {
            note: Some(format!(
                "{kind} declared but cannot be decoded ({}); shown as sent",
                inert::line(&err.to_string())
            )),
            bytes: Cow::Borrowed(body),
        },
    }
}

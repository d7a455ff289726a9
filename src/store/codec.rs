//! Header lists stored byte-exact as HTTP/1 header lines (`name: value\r\n`).

use crate::model::HeaderList;

/// Encodes headers as `name: value\r\n` lines; values are kept as raw bytes.
pub fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum());
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes what [`encode_headers`] wrote.
pub(crate) fn decode_headers(bytes: &[u8]) -> HeaderList {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return None;
            }
            let colon = line.windows(2).position(|w| w == b": ")?;
            Some((
                String::from_utf8_lossy(&line[..colon]).into_owned(),
                line[colon + 2..].to_vec(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_with_repeats_and_raw_bytes() {
        let headers = vec![
            ("x-a".to_string(), b"1".to_vec()),
            ("x-b".to_string(), vec![0xff, b' ', 0x80, b':', b' ']),
            ("x-a".to_string(), b"".to_vec()),
            ("set-cookie".to_string(), b"a=b: c".to_vec()),
        ];
        assert_eq!(decode_headers(&encode_headers(&headers)), headers);
    }
}

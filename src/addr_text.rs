//! Addresses as text, exactly as their `Display` writes them, without the formatting machinery
//! for IPv4: every captured request's sender is written to the store and to `X-Forwarded-For`,
//! and `Display` for an IPv4 socket address costs more than a thousand instructions.

use std::net::{IpAddr, SocketAddr};

/// `addr` as `Display` writes it (`127.0.0.1:52144`, `[::1]:52144`).
pub(crate) fn socket_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => {
            let mut text = Vec::with_capacity(21);
            push_ipv4(v4.ip().octets(), &mut text);
            text.push(b':');
            push_decimal(v4.port().into(), &mut text);
            String::from_utf8(text).expect("digits, dots and a colon are ASCII")
        }
        SocketAddr::V6(_) => addr.to_string(),
    }
}

/// Appends `ip` as `Display` writes it.
pub(crate) fn push_ip(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(v4.octets(), out),
        IpAddr::V6(v6) => out.extend_from_slice(v6.to_string().as_bytes()),
    }
}

fn push_ipv4(octets: [u8; 4], out: &mut Vec<u8>) {
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_decimal(octet.into(), out);
    }
}

fn push_decimal(n: u32, out: &mut Vec<u8>) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_read_as_display_writes_them() {
        let addrs = [
            "0.0.0.0:0",
            "127.0.0.1:52144",
            "10.20.30.40:9",
            "255.255.255.255:65535",
            "192.168.100.1:80",
            "[::1]:52144",
            "[2001:db8::8a2e:370:7334]:443",
            "[::ffff:10.0.0.1]:8080",
        ];
        for addr in addrs {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(socket_addr(addr), addr.to_string());
            let mut ip = Vec::new();
            push_ip(addr.ip(), &mut ip);
            assert_eq!(ip, addr.ip().to_string().as_bytes());
        }
    }

    #[test]
    fn every_octet_and_edge_port_reads_as_display_writes_it() {
        for octet in 0..=255u8 {
            for port in [0u16, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65535] {
                let addr = SocketAddr::from(([octet, 0, 255 - octet, 7], port));
                assert_eq!(socket_addr(addr), addr.to_string());
            }
        }
    }
}

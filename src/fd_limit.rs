//! Raises the open-file limit to its hard maximum at start, so a server holding many sockets
//! does not fail `accept` with EMFILE while the system would allow more.

/// Raises `RLIMIT_NOFILE`'s soft limit to the hard limit; returns the limit now in force.
pub fn raise_to_hard_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // getrlimit and setrlimit only read and write the struct passed in.
    #[allow(unsafe_code)]
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if got != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        #[allow(unsafe_code)]
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
        if set != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let now = super::raise_to_hard_limit().unwrap();
        assert!(now >= 256, "{now}");
        assert_eq!(super::raise_to_hard_limit().unwrap(), now);
    }
}

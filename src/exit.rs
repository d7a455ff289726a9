//! Exit codes, decided in one place, as `grep` and `diff` use them: 0 when the command did what was
//! asked and the outcome is good; 1 when it ran and the outcome it reports is a failure (a
//! signature that does not verify, a replay or trigger not answered with 2xx); 2 when it could not
//! run (a bad argument, no store, an unreadable file, an address in use, a relay that refused).

use std::process::ExitCode;

/// The command ran, and what it checked or sent failed: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unsuccessful(pub String);

/// The exit code for a command that ended with `error`.
pub fn code(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<Unsuccessful>().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::from(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_outcome_is_1_and_anything_else_2() {
        let failed = anyhow::Error::from(Unsuccessful("the signature is invalid".into()));
        assert_eq!(code(&failed), ExitCode::from(1));
        let context = failed.context("verify req_1");
        assert_eq!(code(&context), ExitCode::from(1));
        assert_eq!(code(&anyhow::anyhow!("no store")), ExitCode::from(2));
    }
}

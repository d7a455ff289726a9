use std::io;
use std::path::PathBuf;

/// Why profiles could not be loaded, or a `--set` assignment applied.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// A provider file is unreadable or invalid; `problem` says what and where.
    #[error("{}: {problem}", path.display())]
    File {
        /// The offending file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: String,
    },
    /// The user's provider directory exists but cannot be listed.
    #[error("cannot read provider directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// No profile has this name.
    #[error("unknown profile {name:?}; known profiles: {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
    /// A `--set PATH=VALUE` assignment is malformed or does not fit the payload.
    #[error("--set {assignment:?}: {problem}")]
    Assignment {
        /// The assignment as given.
        assignment: String,
        /// What is wrong, in words.
        problem: String,
    },
}

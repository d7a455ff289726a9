use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::profile::Profile;
use super::{builtin, file, ProviderError};

/// The known provider profiles, by name.
#[derive(Clone, Debug)]
pub struct Catalog {
    profiles: BTreeMap<String, Profile>,
}

impl Catalog {
    /// The profiles shipped in `assets/providers/`, compiled in.
    ///
    /// # Panics
    /// If a built-in file is invalid, which the test suite rules out.
    pub fn builtin() -> Catalog {
        let profiles = builtin::FILES
            .iter()
            .map(|(file_name, text)| {
                let stem = file_name.trim_end_matches(".toml");
                let profile = file::parse(text, stem).unwrap_or_else(|problem| {
                    panic!("built-in provider file assets/providers/{file_name}: {problem}")
                });
                (profile.name.clone(), profile)
            })
            .collect();
        Catalog { profiles }
    }

    /// The built-in profiles plus every `*.toml` in `user_dir`, which adds profiles or replaces
    /// built-in ones of the same name. A directory that does not exist adds nothing. A user file
    /// must parse, its schemas compile and its samples match them; otherwise the error names the
    /// file and the problem.
    pub(crate) fn load(user_dir: Option<&Path>) -> Result<Catalog, ProviderError> {
        let mut catalog = Catalog::builtin();
        let Some(dir) = user_dir else {
            return Ok(catalog);
        };
        let mut from_user: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in toml_files(dir)? {
            let profile = Profile::from_file(&path)?;
            if let Some(first) = from_user.insert(profile.name.clone(), path.clone()) {
                return Err(ProviderError::File {
                    path,
                    problem: format!(
                        "profile `{}` is already defined by {}",
                        profile.name,
                        first.display()
                    ),
                });
            }
            catalog.insert(profile);
        }
        Ok(catalog)
    }

    /// Add `profile`, returning the one it replaces.
    pub(crate) fn insert(&mut self, profile: Profile) -> Option<Profile> {
        self.profiles.insert(profile.name.clone(), profile)
    }

    /// The profile named `name`.
    pub(crate) fn require(&self, name: &str) -> Result<&Profile, ProviderError> {
        self.get(name).ok_or_else(|| ProviderError::Unknown {
            name: name.to_string(),
            known: self.profiles().map(|p| p.name.clone()).collect(),
        })
    }

    /// The profile called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    /// Every profile, sorted by name.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }
}

/// The `*.toml` files directly in `dir`, sorted; none if `dir` does not exist.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, ProviderError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ProviderError::Dir {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| ProviderError::Dir {
                path: dir.to_owned(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

//! Connections that have not yet shown they are wanted — no verified `hello`, no request to a
//! channel that exists — are strangers. Their number is capped per client address (more are
//! closed on arrival) and in total (a newcomer past the cap closes the oldest stranger), so slow
//! or idle sockets cannot crowd out a provider or a listener that gets on with it.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use tokio::sync::Notify;

/// The caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrangerLimits {
    /// Strangers at once, all addresses together.
    pub total: usize,
    /// Strangers at once from one client address.
    pub per_address: usize,
}

impl Default for StrangerLimits {
    fn default() -> Self {
        StrangerLimits {
            total: 1024,
            per_address: 64,
        }
    }
}

/// The registry of strangers: a cheap-to-clone handle.
#[derive(Clone, Default)]
pub(crate) struct Strangers {
    inner: Arc<Registry>,
}

#[derive(Default, Debug)]
struct Registry {
    limits: StrangerLimits,
    state: Mutex<State>,
}

#[derive(Default, Debug)]
struct State {
    next: u64,
    /// By arrival order: the address and how to close the connection.
    by_age: BTreeMap<u64, (IpAddr, Arc<Notify>)>,
    per_address: HashMap<IpAddr, usize>,
    refused: u64,
    evicted: u64,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} unauthenticated connections are already open from this address")]
pub(crate) struct TooManyFromAddress(pub usize);

/// One stranger connection; dropping every clone of it (the connection ended) or
/// [`Stranger::promote`] takes it off the registry.
#[derive(Debug)]
pub(crate) struct Stranger {
    registry: Arc<Registry>,
    id: u64,
    address: IpAddr,
    close: Arc<Notify>,
}

impl Strangers {
    /// A registry with these caps (each at least 1).
    pub(crate) fn new(limits: StrangerLimits) -> Self {
        Strangers {
            inner: Arc::new(Registry {
                limits: StrangerLimits {
                    total: limits.total.max(1),
                    per_address: limits.per_address.max(1),
                },
                state: Mutex::default(),
            }),
        }
    }

    /// Admits a new connection from `address` as a stranger, closing the oldest stranger if the
    /// total cap is reached; refuses it if its address already has its share.
    pub(crate) fn admit(&self, address: IpAddr) -> Result<Arc<Stranger>, TooManyFromAddress> {
        let limits = self.inner.limits;
        let mut state = lock(&self.inner.state);
        let mine = state.per_address.get(&address).copied().unwrap_or(0);
        if mine >= limits.per_address {
            state.refused += 1;
            if state.refused.is_power_of_two() {
                tracing::warn!(
                    %address,
                    "{} connection(s) closed on arrival: {} unauthenticated from one address",
                    state.refused,
                    limits.per_address
                );
            }
            return Err(TooManyFromAddress(limits.per_address));
        }
        if state.by_age.len() >= limits.total {
            if let Some((_, (oldest, close))) = state.by_age.pop_first() {
                state.forget_address(oldest);
                close.notify_one();
                state.evicted += 1;
                if state.evicted.is_power_of_two() {
                    tracing::warn!(
                        "{} unauthenticated connection(s) closed to make room ({} at most)",
                        state.evicted,
                        limits.total
                    );
                }
            }
        }
        let id = state.next;
        state.next += 1;
        let close = Arc::new(Notify::new());
        state.by_age.insert(id, (address, close.clone()));
        *state.per_address.entry(address).or_default() += 1;
        Ok(Arc::new(Stranger {
            registry: self.inner.clone(),
            id,
            address,
            close,
        }))
    }

    /// Strangers now.
    pub(crate) fn count(&self) -> usize {
        lock(&self.inner.state).by_age.len()
    }
}

impl State {
    fn forget_address(&mut self, address: IpAddr) {
        if let Some(n) = self.per_address.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&address);
            }
        }
    }

    fn remove(&mut self, id: u64, address: IpAddr) {
        if self.by_age.remove(&id).is_some() {
            self.forget_address(address);
        }
    }
}

impl Stranger {
    /// The connection showed it is wanted: no longer capped as a stranger, never closed to make
    /// room.
    pub(crate) fn promote(&self) {
        lock(&self.registry.state).remove(self.id, self.address);
    }

    /// Resolves when the connection is closed to make room for a newer stranger.
    pub(crate) async fn evicted(&self) {
        self.close.notified().await;
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        lock(&self.registry.state).remove(self.id, self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caps_per_address_and_in_total_with_the_oldest_closed_first() {
        let strangers = Strangers::new(StrangerLimits {
            total: 3,
            per_address: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = strangers.admit(a).unwrap();
        let _second = strangers.admit(a).unwrap();
        assert_eq!(strangers.admit(a).unwrap_err(), TooManyFromAddress(2));
        let third = strangers.admit(b).unwrap();
        // Full: the next one closes the oldest (first).
        let fourth = strangers.admit(b).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), first.evicted())
            .await
            .expect("the oldest stranger is closed");
        assert_eq!(strangers.count(), 3);
        // A promoted connection leaves room and is never closed for it.
        third.promote();
        assert_eq!(strangers.count(), 2);
        drop(fourth);
        assert_eq!(strangers.count(), 1);
        let _again = strangers.admit(b).unwrap();
        let _and_again = strangers.admit(a).unwrap();
    }
}

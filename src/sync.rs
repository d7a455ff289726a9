//! Locks that outlive a panic.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, poisoned or not: a thread that panicked while holding it leaves plain data
/// (queues, maps, a connection) that the others can go on using, so one failed request never takes
/// the store, the relay or the emulator down with it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

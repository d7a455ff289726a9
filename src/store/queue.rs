//! The writer's queue. A write someone is waiting on wakes the writer at once, unless the thread
//! that queued it holds it back until it runs out of other work ([`JobQueue::push_held`]; at most
//! [`HOLD_LIMIT`]); a write nobody waits on (the answer a request got) rides along with the
//! writer's next batch, or is committed after [`DEFER_LIMIT`] at the latest. Under load every
//! commit then holds both kinds; a lone request commits on its own thread without the answers
//! queued before it ([`JobQueue::take_urgent_now`]), which get a commit of their own.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest a deferred write waits for a commit to ride along with.
pub(crate) const DEFER_LIMIT: Duration = Duration::from_millis(5);

/// The longest a held write waits for its thread to release it: a thread kept busy (a large
/// answer streaming at loopback speed) may not run out of work for a while.
pub(crate) const HOLD_LIMIT: Duration = Duration::from_millis(2);

/// A multi-producer, single-consumer queue of writes, closed once with [`JobQueue::close`].
pub(crate) struct JobQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    /// How long a held write waits at most ([`HOLD_LIMIT`]).
    hold_limit: Duration,
}

struct State<T> {
    urgent: Vec<T>,
    deferred: Vec<T>,
    /// When the oldest deferred write was queued.
    deferred_since: Option<Instant>,
    /// How many of the last urgent writes are held back until [`JobQueue::release`] or their
    /// hold limit: the consumer does not take them alone before then. Queuing a write that is not
    /// held releases them, so the held ones are always the last.
    held: usize,
    /// When the first of the held writes was queued.
    held_since: Option<Instant>,
    /// How the consumer sleeps, if it does.
    sleep: Sleep,
    closed: bool,
}

/// What the consumer is doing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sleep {
    Awake,
    /// Asleep until an urgent write comes or the queue closes.
    Indefinitely,
    /// Asleep until then too, or until the oldest deferred or held write is due.
    UntilDue,
}

/// Why a job was not queued: the queue is closed.
#[derive(Debug)]
pub(crate) struct Closed<T>(
    /// The job, given back.
    pub T,
);

impl<T> Default for JobQueue<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                urgent: Vec::new(),
                deferred: Vec::new(),
                deferred_since: None,
                held: 0,
                held_since: None,
                sleep: Sleep::Awake,
                closed: false,
            }),
            ready: Condvar::new(),
            hold_limit: HOLD_LIMIT,
        }
    }
}

impl<T> JobQueue<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        crate::sync::lock(&self.state)
    }

    /// Queues a write someone waits on; wakes the consumer if it sleeps.
    pub(crate) fn push(&self, job: T) -> Result<(), Closed<T>> {
        self.enqueue(job, false, true)
    }

    /// Queues a write someone waits on without waking the consumer: the caller commits it
    /// itself (see [`JobQueue::take_now`]), or wakes the consumer ([`JobQueue::wake`]) if it
    /// cannot.
    pub(crate) fn push_quiet(&self, job: T) -> Result<(), Closed<T>> {
        self.enqueue(job, false, false)
    }

    /// Queues a write someone waits on and holds it back until [`JobQueue::release`], until
    /// `at_most` writes are held, or for the hold limit at most; the consumer takes it early
    /// with any batch it takes meanwhile. True when it is the first write held since the last
    /// release: the caller must see that `release` follows.
    pub(crate) fn push_held(&self, job: T, at_most: usize) -> Result<bool, Closed<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(Closed(job));
        }
        state.urgent.push(job);
        state.held += 1;
        let first = state.held == 1;
        if first {
            state.held_since = Some(Instant::now());
            // A consumer asleep without a deadline is woken to set one.
            if state.sleep == Sleep::Indefinitely {
                self.wake_locked(&mut state);
            }
        }
        if state.held >= at_most {
            unhold(&mut state);
            self.wake_locked(&mut state);
        }
        Ok(first)
    }

    /// Lets the consumer take the writes held back by [`JobQueue::push_held`], waking it.
    pub(crate) fn release(&self) {
        let mut state = self.lock();
        if state.held > 0 {
            unhold(&mut state);
            self.wake_locked(&mut state);
        }
    }

    /// A queue whose held writes wait `limit` at most.
    #[cfg(test)]
    pub(crate) fn holding_for(limit: Duration) -> Self {
        Self {
            hold_limit: limit,
            ..Self::default()
        }
    }

    /// Whether no write is held back.
    #[cfg(test)]
    pub(crate) fn is_released(&self) -> bool {
        self.lock().held == 0
    }

    /// Queues a write nobody waits on. A consumer sleeping without a deadline is woken to set
    /// one; otherwise the write rides along with the next batch.
    pub(crate) fn push_deferred(&self, job: T) -> Result<(), Closed<T>> {
        self.enqueue(job, true, true)
    }

    /// Queues a write nobody waits on without waking the consumer: the caller has arranged for
    /// it to be committed, or wakes the consumer if it cannot.
    pub(crate) fn push_deferred_quiet(&self, job: T) -> Result<(), Closed<T>> {
        self.enqueue(job, true, false)
    }

    fn enqueue(&self, job: T, deferred: bool, wake: bool) -> Result<(), Closed<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(Closed(job));
        }
        let wake = if deferred {
            state.deferred.push(job);
            state.deferred_since.get_or_insert_with(Instant::now);
            // A consumer asleep with a deadline already comes back for deferred writes.
            wake && state.sleep == Sleep::Indefinitely
        } else {
            state.urgent.push(job);
            unhold(&mut state);
            wake
        };
        if wake {
            self.wake_locked(&mut state);
        }
        Ok(())
    }

    fn wake_locked(&self, state: &mut State<T>) {
        if state.sleep != Sleep::Awake {
            state.sleep = Sleep::Awake;
            self.ready.notify_one();
        }
    }

    /// Wakes the consumer if it sleeps, to look at what is queued.
    pub(crate) fn wake(&self) {
        self.wake_locked(&mut self.lock());
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        let state = self.lock();
        state.urgent.is_empty() && state.deferred.is_empty()
    }

    /// Whether a write someone waits on is queued.
    pub(crate) fn has_urgent(&self) -> bool {
        !self.lock().urgent.is_empty()
    }

    /// Puts writes taken but not committed back at the front of the queue, as urgent, and wakes
    /// the consumer. This works on a closed queue too: they were accepted before it closed.
    pub(crate) fn requeue(&self, mut jobs: Vec<T>) {
        let mut state = self.lock();
        jobs.append(&mut state.urgent);
        state.urgent = jobs;
        self.wake_locked(&mut state);
    }

    /// Takes up to `max` queued writes without waiting, urgent ones first; empty if none are
    /// queued.
    pub(crate) fn take_now(&self, max: usize) -> Vec<T> {
        take_batch(&mut self.lock(), max)
    }

    /// Takes up to `max` queued writes someone waits on without waiting, and the deferred ones
    /// only once the oldest of them has waited [`DEFER_LIMIT`].
    pub(crate) fn take_urgent_now(&self, max: usize) -> Vec<T> {
        let mut state = self.lock();
        let due = state
            .deferred_since
            .is_some_and(|since| since.elapsed() >= DEFER_LIMIT);
        if due {
            take_batch(&mut state, max)
        } else {
            let batch = take_front(&mut state.urgent, max);
            keep_held_within(&mut state);
            batch
        }
    }

    /// Refuses further writes; what is queued is still handed out.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.wake_locked(&mut state);
    }

    /// Waits until there is an urgent write not held, a deferred one has waited [`DEFER_LIMIT`],
    /// a held one its hold limit, or the queue is closed, then takes up to `max` writes in the
    /// order they came within each kind, urgent ones first. `None` once the queue is closed and
    /// empty.
    pub(crate) fn next_batch(&self, max: usize) -> Option<Vec<T>> {
        let mut state = self.lock();
        loop {
            let deferred_due = state
                .deferred_since
                .map(|since| since + DEFER_LIMIT)
                .filter(|_| !state.deferred.is_empty());
            let held_due = state
                .held_since
                .map(|since| since + self.hold_limit)
                .filter(|_| state.held > 0);
            let due = deferred_due.into_iter().chain(held_due).min();
            let now = Instant::now();
            if state.urgent.len() > state.held || state.closed || due.is_some_and(|due| due <= now)
            {
                break;
            }
            state.sleep = if due.is_some() {
                Sleep::UntilDue
            } else {
                Sleep::Indefinitely
            };
            state = match due {
                Some(due) => {
                    self.ready
                        .wait_timeout(state, due - now)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
                None => self
                    .ready
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            };
            state.sleep = Sleep::Awake;
        }
        let batch = take_batch(&mut state, max);
        if batch.is_empty() {
            None
        } else {
            Some(batch)
        }
    }
}

/// Lets go of every held write.
fn unhold<T>(state: &mut State<T>) {
    state.held = 0;
    state.held_since = None;
}

/// After urgent writes were taken from the front: the held ones, the last, are at most those left.
fn keep_held_within<T>(state: &mut State<T>) {
    if state.held >= state.urgent.len() {
        state.held = state.urgent.len();
        if state.held == 0 {
            state.held_since = None;
        }
    }
}

fn take_batch<T>(state: &mut State<T>, max: usize) -> Vec<T> {
    let mut batch = take_front(&mut state.urgent, max);
    keep_held_within(state);
    let room = max - batch.len();
    batch.extend(take_front(&mut state.deferred, room));
    if state.deferred.is_empty() {
        state.deferred_since = None;
    }
    batch
}

fn take_front<T>(jobs: &mut Vec<T>, max: usize) -> Vec<T> {
    if jobs.len() <= max {
        std::mem::take(jobs)
    } else {
        jobs.drain(..max).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A consumer thread in `next_batch`, once it sleeps: what the test does next must wake it.
    fn sleeping_consumer<T: Send + 'static>(
        queue: &Arc<JobQueue<T>>,
    ) -> std::thread::JoinHandle<Option<Vec<T>>> {
        let consumer = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.next_batch(10))
        };
        while queue.lock().sleep == Sleep::Awake {
            assert!(
                !consumer.is_finished(),
                "the consumer returned instead of sleeping"
            );
            std::thread::yield_now();
        }
        consumer
    }

    #[test]
    fn taking_urgent_writes_leaves_deferred_ones_until_they_are_due() {
        let queue = JobQueue::default();
        queue.push_deferred_quiet("answer 1").unwrap();
        queue.push_quiet("request 2").unwrap();
        assert_eq!(queue.take_urgent_now(10), ["request 2"]);
        assert!(!queue.has_urgent());
        assert!(!queue.is_empty(), "the answer waits for its own commit");
        queue.push_quiet("request 3").unwrap();
        std::thread::sleep(DEFER_LIMIT);
        assert_eq!(queue.take_urgent_now(10), ["request 3", "answer 1"]);
    }

    #[test]
    fn urgent_writes_come_first_and_take_deferred_ones_along() {
        let queue = JobQueue::default();
        queue.push_deferred("answer 1").unwrap();
        queue.push("request 2").unwrap();
        assert_eq!(queue.next_batch(10).unwrap(), ["request 2", "answer 1"]);
    }

    #[test]
    fn a_batch_holds_at_most_max_writes_and_the_rest_stay_queued() {
        let queue = JobQueue::default();
        for job in 0..5 {
            queue.push(job).unwrap();
        }
        queue.push_deferred(99).unwrap();
        assert_eq!(queue.next_batch(3).unwrap(), [0, 1, 2]);
        assert_eq!(queue.next_batch(3).unwrap(), [3, 4, 99]);
    }

    #[test]
    fn a_deferred_write_alone_is_handed_out_after_the_limit() {
        let queue = JobQueue::default();
        let queued = Instant::now();
        queue.push_deferred(1).unwrap();
        assert_eq!(queue.next_batch(10).unwrap(), [1]);
        assert!(queued.elapsed() >= DEFER_LIMIT);
    }

    #[test]
    fn an_urgent_write_wakes_a_sleeping_consumer() {
        let queue = Arc::new(JobQueue::default());
        let consumer = sleeping_consumer(&queue);
        queue.push(7).unwrap();
        assert_eq!(consumer.join().unwrap().unwrap(), [7]);
    }

    #[test]
    fn a_deferred_write_wakes_a_consumer_sleeping_without_a_deadline() {
        let queue = Arc::new(JobQueue::default());
        let consumer = sleeping_consumer(&queue);
        queue.push_deferred(3).unwrap();
        assert_eq!(consumer.join().unwrap().unwrap(), [3]);
    }

    #[test]
    fn quiet_writes_leave_a_sleeping_consumer_asleep() {
        let queue = Arc::new(JobQueue::default());
        let consumer = sleeping_consumer(&queue);
        queue.push_quiet(1).unwrap();
        queue.push_deferred_quiet(2).unwrap();
        // A wake-up that must not happen has nothing to wait on: give it time to show.
        std::thread::sleep(Duration::from_millis(20));
        assert!(!consumer.is_finished(), "woken by a quiet write");
        assert_eq!(queue.take_now(10), [1, 2]);
        queue.push(3).unwrap();
        assert_eq!(consumer.join().unwrap().unwrap(), [3]);
    }

    #[test]
    fn a_deferred_write_wakes_a_consumer_that_sleeps_past_quiet_ones() {
        let queue = Arc::new(JobQueue::default());
        let consumer = sleeping_consumer(&queue);
        queue.push_deferred_quiet(1).unwrap();
        queue.push_deferred(2).unwrap();
        assert_eq!(consumer.join().unwrap().unwrap(), [1, 2]);
    }

    #[test]
    fn waking_makes_a_sleeping_consumer_look_again() {
        let queue = Arc::new(JobQueue::default());
        let consumer = sleeping_consumer(&queue);
        queue.push_quiet(5).unwrap();
        queue.wake();
        assert_eq!(consumer.join().unwrap().unwrap(), [5]);
    }

    #[test]
    fn held_writes_do_not_wake_a_sleeping_consumer_until_released() {
        let queue = Arc::new(JobQueue::holding_for(Duration::from_secs(60)));
        let consumer = sleeping_consumer(&queue);
        assert!(queue.push_held(1, 10).unwrap());
        assert!(!queue.push_held(2, 10).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        assert!(!consumer.is_finished(), "woken by a held write");
        queue.release();
        assert_eq!(consumer.join().unwrap().unwrap(), [1, 2]);
        assert!(
            queue.push_held(3, 10).unwrap(),
            "the first held since the release"
        );
    }

    #[test]
    fn held_writes_are_taken_once_held_for_the_hold_limit() {
        let queue = Arc::new(JobQueue::holding_for(Duration::from_millis(20)));
        let consumer = sleeping_consumer(&queue);
        let held = Instant::now();
        queue.push_held(1, 10).unwrap();
        assert_eq!(consumer.join().unwrap().unwrap(), [1]);
        assert!(held.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_write_not_held_releases_the_held_ones_before_it() {
        let queue = JobQueue::holding_for(Duration::from_secs(60));
        queue.push_held(1, 10).unwrap();
        queue.push_quiet(2).unwrap();
        assert!(queue.is_released());
        assert!(queue.push_held(3, 10).unwrap(), "the first held since");
        assert_eq!(queue.take_now(2), [1, 2]);
        assert!(!queue.is_released(), "the last write is still held");
        assert_eq!(queue.take_now(2), [3]);
        assert!(queue.is_released());
    }

    #[test]
    fn holding_as_many_writes_as_allowed_releases_them() {
        let queue = Arc::new(JobQueue::holding_for(Duration::from_secs(60)));
        let consumer = sleeping_consumer(&queue);
        for job in 1..=3 {
            queue.push_held(job, 3).unwrap();
        }
        assert_eq!(consumer.join().unwrap().unwrap(), [1, 2, 3]);
    }

    #[test]
    fn a_write_not_held_wakes_the_consumer_for_the_held_ones_too() {
        let queue = Arc::new(JobQueue::holding_for(Duration::from_secs(60)));
        let consumer = sleeping_consumer(&queue);
        queue.push_held(1, 10).unwrap();
        queue.push(2).unwrap();
        assert_eq!(consumer.join().unwrap().unwrap(), [1, 2]);
        assert!(queue.is_released(), "what is taken is no longer held");
    }

    #[test]
    fn requeued_writes_come_back_first() {
        let queue = JobQueue::default();
        queue.push_quiet(1).unwrap();
        queue.push_quiet(2).unwrap();
        let taken = queue.take_now(1);
        queue.push_quiet(3).unwrap();
        queue.requeue(taken);
        assert_eq!(queue.take_now(10), [1, 2, 3]);
    }

    #[test]
    fn requeued_writes_wake_a_sleeping_consumer() {
        let queue = Arc::new(JobQueue::default());
        let consumer = sleeping_consumer(&queue);
        queue.requeue(vec![7]);
        assert_eq!(consumer.join().unwrap().unwrap(), [7]);
    }

    #[test]
    fn taking_now_never_waits() {
        let queue = JobQueue::default();
        assert!(queue.take_now(10).is_empty());
        assert!(queue.is_empty());
        queue.push_deferred(1).unwrap();
        queue.push(2).unwrap();
        assert!(!queue.is_empty());
        assert_eq!(queue.take_now(10), [2, 1]);
        assert!(queue.is_empty());
    }

    #[test]
    fn closing_hands_out_what_is_left_then_ends() {
        let queue = JobQueue::default();
        queue.push_deferred(1).unwrap();
        queue.close();
        assert!(matches!(queue.push(2), Err(Closed(2))));
        assert!(matches!(queue.push_deferred(3), Err(Closed(3))));
        assert_eq!(queue.next_batch(10).unwrap(), [1]);
        assert_eq!(queue.next_batch(10), None);
    }

    #[test]
    fn closing_wakes_a_sleeping_consumer() {
        let queue = Arc::new(JobQueue::<u8>::default());
        let consumer = sleeping_consumer(&queue);
        queue.close();
        assert_eq!(consumer.join().unwrap(), None);
    }
}

//! Waking the outbox worker when a job is queued, instead of letting it wait for its next poll.
//!
//! A job becomes visible to a worker only when its transaction commits, so the bell rings after
//! the commit: [`after_commit`] notes, inside the transaction, that it queued a job (and on
//! PostgreSQL sends `NOTIFY`, which the server delivers at commit to every node listening), and
//! `Db::write` rings this node's [`Bell`] once the commit succeeded.

use std::cell::Cell;
use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tokio::sync::watch;

use super::DbConn;

/// The PostgreSQL channel of "a job was queued".
const CHANNEL: &str = "encarte_jobs";

thread_local! {
    /// A job was queued in the transaction running on this thread.
    static QUEUED: Cell<bool> = const { Cell::new(false) };
    /// ...and that transaction committed.
    static COMMITTED: Cell<bool> = const { Cell::new(false) };
}

/// Called by every enqueue, inside the caller's transaction.
pub fn after_commit(conn: &mut DbConn) -> diesel::QueryResult<()> {
    if QUEUED.replace(true) {
        return Ok(());
    }
    match conn {
        // Delivered at commit, once per transaction whatever the number of jobs.
        DbConn::Pg(c) => c.batch_execute(&format!("NOTIFY {CHANNEL}")),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// A transaction begins: nothing queued in it yet.
pub(super) fn begun() {
    QUEUED.set(false);
}

/// The transaction ended: remember whether a committed one queued jobs.
pub(super) fn ended(committed: bool) {
    let queued = QUEUED.replace(false);
    if committed && queued {
        COMMITTED.set(true);
    }
}

/// Whether the transaction that just committed on this thread queued jobs (and forget it).
pub(super) fn take_committed() -> bool {
    COMMITTED.replace(false)
}

/// What workers of this node wait on. Each ring bumps a counter; a worker that saw the counter
/// before it claimed wakes on any ring since, so a job queued during its claim is not missed.
#[derive(Clone)]
pub struct Bell(Arc<watch::Sender<u64>>);

impl Default for Bell {
    fn default() -> Self {
        Bell(Arc::new(watch::channel(0).0))
    }
}

impl Bell {
    pub fn ring(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }

    /// Rings on every `NOTIFY` of the channel, from any node, until the bell is dropped. A
    /// thread with a connection of its own: libpq reads notifications without a query, and this
    /// only looks at what arrived every few milliseconds.
    pub fn listen(&self, url: String) {
        let bell = Arc::downgrade(&self.0);
        let spawned = std::thread::Builder::new().name("encarte-listen".into()).spawn(move || listen(&url, &bell));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no LISTEN thread: other nodes' jobs wait for the poll");
        }
    }
}

fn listen(url: &str, bell: &Weak<watch::Sender<u64>>) {
    {
        let _active = super::Listening::start();
        listen_until_done(url, bell);
    }
    // Its connection is closed; the thread itself never ends: an ending thread runs OpenSSL's
    // per-thread clean-up, which must not meet the process's exit-time one (see `CONNECTORS`).
    loop {
        std::thread::park();
    }
}

fn listen_until_done(url: &str, bell: &Weak<watch::Sender<u64>>) {
    let mut failures = 0u32;
    while bell.strong_count() > 0 && !super::closing() {
        let connected = PgConnection::establish(url)
            .map_err(|e| e.to_string())
            .and_then(|mut c| c.batch_execute(&format!("LISTEN {CHANNEL}")).map(|()| c).map_err(|e| e.to_string()));
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(error = e, "LISTEN failed: jobs queued by other nodes wait for the poll meanwhile");
                }
                std::thread::sleep(Duration::from_secs(u64::from(failures.min(30))));
                continue;
            }
        };
        failures = 0;
        // Whatever was queued while nobody listened: the worker looks now.
        ring(bell);
        'listening: while !super::closing() {
            let mut heard = false;
            for note in conn.notifications_iter() {
                match note {
                    Ok(_) => heard = true,
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                        break 'listening;
                    }
                }
            }
            if heard && !ring(bell) {
                return;
            }
            if bell.strong_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// False when the bell is gone (its database closed).
fn ring(bell: &Weak<watch::Sender<u64>>) -> bool {
    match bell.upgrade() {
        Some(sender) => {
            sender.send_modify(|n| *n = n.wrapping_add(1));
            true
        }
        None => false,
    }
}

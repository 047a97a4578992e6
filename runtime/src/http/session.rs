//! Legacy (2025-06-18 / 2025-11-25) Streamable HTTP sessions: random ids bound to the principal
//! that created them, bounded in number per principal and in total (the oldest is evicted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::connection::Connection;

/// Who owns a session: the same caller must present the same identity on every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Owner(String);

impl Owner {
    pub(crate) fn of(principal: &crate::Principal) -> Self {
        // The subject and the client together: the same user through another client is another
        // owner. Anonymous callers (authorization off) share one owner: their sessions are
        // protected by the id alone.
        let id = format!(
            "sub:{}|client:{}",
            principal.subject().unwrap_or_default(),
            principal.client_id().unwrap_or_default()
        );
        Self(id)
    }

    pub(crate) fn key(&self) -> &str {
        &self.0
    }
}

/// Why a session id was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionError {
    /// Not a session we know (never issued, ended, evicted, or owned by another principal —
    /// the same answer for all, so an id cannot be probed).
    NotFound,
}

struct Session {
    owner: Owner,
    connection: Arc<Connection>,
    /// Creation order, for evicting the oldest.
    serial: u64,
}

#[derive(Default)]
struct Table {
    live: HashMap<String, Session>,
    next_serial: u64,
}

/// The live sessions of one server, each with its client connection.
pub(crate) struct Sessions {
    table: Mutex<Table>,
    max_total: usize,
    max_per_owner: usize,
}

impl Sessions {
    pub(crate) fn new(max_total: usize, max_per_owner: usize) -> Self {
        Self {
            table: Mutex::default(),
            max_total: max_total.max(1),
            max_per_owner: max_per_owner.max(1),
        }
    }

    /// Starts a session for `owner` and returns its id: 32 random bytes, base64url (visible
    /// ASCII, as the transport requires). At a limit, the oldest session (of this owner, or of
    /// all) ends to make room.
    pub(crate) fn create(
        &self,
        owner: Owner,
        connection: Arc<Connection>,
    ) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let mut table = self.lock();
        let owned = table.live.values().filter(|s| s.owner == owner).count();
        if owned >= self.max_per_owner {
            evict_oldest(&mut table, Some(&owner));
        }
        if table.live.len() >= self.max_total {
            evict_oldest(&mut table, None);
        }
        let serial = table.next_serial;
        table.next_serial += 1;
        table.live.insert(
            id.clone(),
            Session {
                owner,
                connection,
                serial,
            },
        );
        Ok(id)
    }

    /// The connection of session `id`, if it is live and owned by `owner`.
    pub(crate) fn check(&self, id: &str, owner: &Owner) -> Result<Arc<Connection>, SessionError> {
        match self.lock().live.get(id) {
            Some(session) if session.owner == *owner => Ok(Arc::clone(&session.connection)),
            _ => Err(SessionError::NotFound),
        }
    }

    /// Ends the session if `owner` owns it.
    pub(crate) fn end(&self, id: &str, owner: &Owner) -> Result<(), SessionError> {
        let mut table = self.lock();
        match table.live.get(id) {
            Some(session) if session.owner == *owner => {
                if let Some(session) = table.live.remove(id) {
                    session.connection.close();
                }
                Ok(())
            }
            _ => Err(SessionError::NotFound),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().live.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn evict_oldest(table: &mut Table, owner: Option<&Owner>) {
    let oldest = table
        .live
        .iter()
        .filter(|(_, s)| owner.is_none_or(|o| s.owner == *o))
        .min_by_key(|(_, s)| s.serial)
        .map(|(id, _)| id.clone());
    if let Some(session) = oldest.and_then(|id| table.live.remove(&id)) {
        tracing::info!(target: "scopegate::http", event = "session_evicted", owner = session.owner.key(), "session limit reached: the oldest session ends");
        session.connection.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Principal;

    #[test]
    fn sessions_are_random_bound_and_end() {
        let sessions = Sessions::new(100, 100);
        let alice = Owner::of(&Principal::builder().subject("alice").build());
        let bob = Owner::of(&Principal::builder().subject("bob").build());
        let a = sessions.create(alice.clone(), Connection::new()).unwrap();
        let b = sessions.create(alice.clone(), Connection::new()).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_graphic()));
        assert!(sessions.check(&a, &alice).is_ok());
        assert_eq!(sessions.check(&a, &bob).err(), Some(SessionError::NotFound));
        assert_eq!(sessions.end(&a, &bob), Err(SessionError::NotFound));
        assert_eq!(sessions.end(&a, &alice), Ok(()));
        assert_eq!(
            sessions.check(&a, &alice).err(),
            Some(SessionError::NotFound)
        );
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn the_oldest_session_is_evicted_at_each_limit() {
        let sessions = Sessions::new(3, 2);
        let alice = Owner::of(&Principal::builder().subject("alice").build());
        let bob = Owner::of(&Principal::builder().subject("bob").build());
        let a1 = sessions.create(alice.clone(), Connection::new()).unwrap();
        let a2 = sessions.create(alice.clone(), Connection::new()).unwrap();
        let a3 = sessions.create(alice.clone(), Connection::new()).unwrap();
        assert!(
            sessions.check(&a1, &alice).is_err(),
            "alice's oldest made room"
        );
        assert!(sessions.check(&a2, &alice).is_ok() && sessions.check(&a3, &alice).is_ok());
        let b1 = sessions.create(bob.clone(), Connection::new()).unwrap();
        assert_eq!(sessions.len(), 3);
        let b2 = sessions.create(bob.clone(), Connection::new()).unwrap();
        assert_eq!(sessions.len(), 3, "the total is capped");
        assert!(
            sessions.check(&a2, &alice).is_err(),
            "the oldest of all made room"
        );
        assert!(sessions.check(&b1, &bob).is_ok() && sessions.check(&b2, &bob).is_ok());
    }
}

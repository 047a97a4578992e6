//! Legacy (2025-06-18 / 2025-11-25) Streamable HTTP sessions: random ids bound to the principal
//! that created them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::connection::Connection;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Who owns a session: the same caller must present the same identity on every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Owner(String);

impl Owner {
    pub(crate) fn of(principal: &crate::Principal) -> Self {
        // Subject first; a client-credentials token may have only a client id. Anonymous callers
        // (authorization off) share one owner: their sessions are protected by the id alone.
        let id = principal
            .subject()
            .map(|s| format!("sub:{s}"))
            .or_else(|| principal.client_id().map(|c| format!("client:{c}")))
            .unwrap_or_default();
        Self(id)
    }
}

/// Why a session id was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionError {
    /// Not a session we know (never issued, ended, or owned by another principal — the same
    /// answer for all three, so an id cannot be probed).
    NotFound,
}

/// The live sessions of one server, each with its client connection.
#[derive(Default)]
pub(crate) struct Sessions {
    live: Mutex<HashMap<String, (Owner, Arc<Connection>)>>,
}

impl Sessions {
    /// Starts a session for `owner` and returns its id: 32 random bytes, base64url (visible
    /// ASCII, as the transport requires).
    pub(crate) fn create(
        &self,
        owner: Owner,
        connection: Arc<Connection>,
    ) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        self.lock().insert(id.clone(), (owner, connection));
        Ok(id)
    }

    /// The connection of session `id`, if it is live and owned by `owner`.
    pub(crate) fn check(&self, id: &str, owner: &Owner) -> Result<Arc<Connection>, SessionError> {
        match self.lock().get(id) {
            Some((o, connection)) if o == owner => Ok(Arc::clone(connection)),
            _ => Err(SessionError::NotFound),
        }
    }

    /// Ends the session if `owner` owns it.
    pub(crate) fn end(&self, id: &str, owner: &Owner) -> Result<(), SessionError> {
        let mut live = self.lock();
        match live.get(id) {
            Some((o, _)) if o == owner => {
                if let Some((_, connection)) = live.remove(id) {
                    connection.close();
                }
                Ok(())
            }
            _ => Err(SessionError::NotFound),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Owner, Arc<Connection>)>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Principal;

    #[test]
    fn sessions_are_random_bound_and_end() {
        let sessions = Sessions::default();
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
}

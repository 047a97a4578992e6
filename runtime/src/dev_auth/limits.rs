//! The bounds of the authorization flow's tables: how many entries each may hold, and how long
//! an authorization code lives.

use std::time::Duration;

/// Limits that keep a long-running development server's memory bounded.
pub(super) const MAX_ENTRIES: usize = 10_000;
pub(super) const CODE_TTL: Duration = Duration::from_secs(60);

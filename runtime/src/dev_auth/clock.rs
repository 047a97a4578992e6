//! The wall clock, in seconds since the Unix epoch (token and registration timestamps).

use std::time::{SystemTime, UNIX_EPOCH};

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

//! [`Quota`]: a rate limit's allowance, as the configuration and the stores take it.

/// A rate: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Requests allowed at once.
    pub burst: u32,
    /// Requests allowed per second, sustained.
    pub per_second: f64,
}

impl Quota {
    /// A quota of `per_second` sustained with bursts of `burst`.
    #[must_use]
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { burst, per_second }
    }
}

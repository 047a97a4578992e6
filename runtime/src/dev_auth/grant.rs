//! What an authorization carries: the request a consent page waits on (`AuthRequest`), and the
//! grant an authorization code or a refresh token family stands for (`Grant`).

#[derive(Clone)]
pub(super) struct AuthRequest {
    pub(super) client_id: String,
    /// The client's `client_name`, for the consent page.
    pub(super) client_name: Option<String>,
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) challenge: String,
    pub(super) scopes: Vec<String>,
    pub(super) resource: String,
}

#[derive(Clone)]
pub(super) struct Grant {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) challenge: String,
    pub(super) scopes: Vec<String>,
    pub(super) resource: String,
    /// The DPoP key a public client's refresh tokens are bound to (RFC 9449 §5): set when the
    /// code is redeemed with a proof.
    pub(super) jkt: Option<String>,
}

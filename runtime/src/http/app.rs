//! The router: the shared state built from an [`HttpConfig`] and the routes assembled
//! (`Server::http`), and serving a server that has not been made a router yet.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::routing::get;

use super::authn::{bearer_header, header_value};
use super::config::{Auth, HttpConfig};
use super::cors;
use super::dpop::Dpop;
use super::error::HttpError;
use super::https;
use super::limit;
use super::probes::{READYZ, healthz, readyz, resource_metadata};
use super::refusals;
use super::serve::{self, ServeOptions, serve_with};
use super::session::Sessions;
use super::shared::Shared;
use crate::auth::Challenge;
use crate::metadata::{self, PRM_WELL_KNOWN, ResourceMetadata};
use crate::server::{Core, McpServer, Server};

impl<S: McpServer> Server<S> {
    /// The Streamable HTTP router for this server: the MCP endpoint at the resource URI's path
    /// and the Protected Resource Metadata at both well-known locations, with CORS.
    pub fn http(&self, config: HttpConfig) -> Result<Router, HttpError> {
        self.core.http(config)
    }
}

impl Core {
    fn http(&self, config: HttpConfig) -> Result<Router, HttpError> {
        self.http_app(config).map(|(router, _)| router)
    }

    /// The router, and its MCP endpoint for [`serve_with`] to call directly.
    fn http_app(&self, config: HttpConfig) -> Result<(Router, serve::McpRoute), HttpError> {
        let resource = metadata::canonical_resource(&config.resource)?;
        let auth = config.auth.clone().ok_or(HttpError::NoAuth)?;
        if matches!(auth, Auth::Verifier(_)) && config.authorization_servers.is_empty() {
            return Err(HttpError::NoAuthorizationServer);
        }
        https::check(&config, &resource, &auth)?;
        if let Some(bad) = config
            .extra_scopes
            .iter()
            .chain(config.initial_scopes.iter().flatten())
            .find(|s| !crate::scope::is_scope_token(s))
        {
            return Err(HttpError::Scope(bad.clone()));
        }
        // scopes_supported: the code's table plus configured extras, never offline_access
        // (2026-07-28 authorization; it is the authorization server's business).
        let mut known: Vec<String> = self
            .scopes()
            .supported()
            .iter()
            .map(|s| (*s).to_owned())
            .chain(config.extra_scopes.iter().cloned())
            .filter(|s| s != "offline_access")
            .collect();
        known.sort();
        known.dedup();
        let info = self.info();
        // DPoP needs a verifier to check the bound tokens; with authentication off there are none.
        let dpop = match (&config.dpop, &auth) {
            (Some(dpop), Auth::Verifier(_)) => {
                Some(Dpop::new(dpop.clone(), self.replay_store(), &resource))
            }
            _ => None,
        };
        let document = ResourceMetadata {
            resource: resource.clone(),
            authorization_servers: config.authorization_servers.clone(),
            scopes_supported: if matches!(auth, Auth::Off) {
                Vec::new()
            } else {
                known.clone()
            },
            resource_name: config
                .resource_name
                .clone()
                .or_else(|| Some(info.title.unwrap_or(info.name).to_owned())),
            resource_documentation: config.resource_documentation.clone(),
            dpop_signing_alg_values_supported: dpop
                .as_ref()
                .map(Dpop::algorithm_names)
                .unwrap_or_default(),
            dpop_bound_access_tokens_required: dpop.as_ref().is_some_and(Dpop::required),
        };
        let metadata_url = metadata::metadata_url(&resource);
        self.set_resource_metadata(metadata_url.clone());
        if let Some(store) = &config.rate_limit_store {
            self.share_quotas(Arc::clone(store));
        }
        let initial: Vec<String> = match &config.initial_scopes {
            Some(scopes) => scopes.clone(),
            None => self.required_scopes(),
        };
        let initial_scope = (!initial.is_empty()).then(|| initial.join(" "));
        let initial_challenge = match &dpop {
            Some(dpop) if dpop.required() => header_value(&dpop.challenge(
                None,
                None,
                initial_scope.clone(),
                Some(metadata_url.clone()),
            )),
            _ => bearer_header(
                &Challenge {
                    scope: initial_scope.clone(),
                    resource_metadata: Some(metadata_url.clone()),
                    ..Challenge::default()
                },
                dpop.as_ref(),
            ),
        };
        let (resource_origin, path) = metadata::origin_and_path(&resource);
        let path = match path.split('?').next() {
            Some("") | None => "/".to_owned(),
            Some(path) => path.to_owned(),
        };
        let resource_origin = resource_origin.to_owned();
        if config.health_checks && (path == "/healthz" || path == READYZ) {
            return Err(HttpError::PathTaken(path));
        }
        let shared = Arc::new(Shared {
            server: self.clone(),
            auth,
            metadata_json: Bytes::from(document.to_json().to_string()),
            initial_challenge,
            dpop,
            initial_scope,
            resource_origin,
            metadata_url,
            known_scopes: known,
            sessions: (!config.stateless).then(|| {
                Sessions::new(
                    config.max_sessions,
                    config.max_sessions_per_principal,
                    config.session_store.clone(),
                )
            }),
            concurrency: limit::InFlightLimit::new(config.max_concurrent_requests),
            listens: limit::StreamLimit::new(
                config.max_listen_streams,
                config.max_listen_streams_per_principal,
            ),
            per_address: config.rate_per_address.map(|quota| {
                limit::RateLimit::new(quota, config.rate_limit_store.clone(), "address")
            }),
            per_principal: config.rate_per_principal.map(|quota| {
                limit::RateLimit::new(quota, config.rate_limit_store.clone(), "principal")
            }),
            proxies: config.trusted_proxies.clone(),
            handler_timeout: config.handler_timeout,
            refusals: refusals::Refusals::new(refusals::WINDOW),
            body_timeout: config.body_timeout,
            denial: config.denial,
            max_body_bytes: config.max_body_bytes,
            allowed_origins: config.allowed_origins.clone(),
            allow_loopback_origins: config.allow_loopback_origins,
            resource_authority: url::Url::parse(&resource).ok().and_then(|url| {
                let host = url.host_str()?.to_ascii_lowercase();
                Some(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            }),
            allowed_hosts: (!config.any_host).then(|| {
                let mut hosts = config.allowed_hosts.clone();
                hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
                if let Ok(url) = url::Url::parse(&resource)
                    && let Some(host) = url.host_str()
                {
                    hosts.push(host.to_ascii_lowercase());
                }
                hosts
            }),
        });

        let cors_shared = Arc::clone(&shared);
        let cors = cors::layer(
            move |origin| cors_shared.origin_allowed(origin),
            &shared.server.param_header_names(),
        );
        let prm_path_inserted = format!("{PRM_WELL_KNOWN}{path}");
        // The MCP endpoint applies CORS only to requests with an `Origin` (see `cors`); the
        // metadata is public, open to every origin (`cors::public_layer`).
        let endpoint = cors::Endpoint {
            shared: Arc::clone(&shared),
            cors: Arc::new(cors),
        };
        let public = cors::public_layer();
        let mut router = Router::new()
            .route_service(&path, endpoint.clone())
            .route(PRM_WELL_KNOWN, get(resource_metadata).layer(public.clone()));
        if prm_path_inserted != PRM_WELL_KNOWN {
            router = router.route(&prm_path_inserted, get(resource_metadata).layer(public));
        }
        if config.health_checks {
            router = router
                .route("/healthz", get(healthz))
                .route(READYZ, get(readyz));
        }
        // Keys and issuer metadata fetched now, in the background: an issuer without S256 is
        // warned about at start, not at the first token (issue 18 item 8).
        if let Auth::Verifier(verifier) = &shared.auth {
            verifier.warm_up();
        }
        Ok((
            router.with_state(shared),
            serve::McpRoute { path, endpoint },
        ))
    }
}

/// [`crate::McpServerExt::serve_http`] for a server already stripped of its type (or that
/// failed to build).
pub(crate) async fn serve_core(
    server: Result<Core, crate::server::BuildError>,
    config: HttpConfig,
    addr: SocketAddr,
) -> Result<(), HttpError> {
    let server = server?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    serve_core_on(Ok(server), config, listener, ServeOptions::default()).await
}

/// [`crate::McpServerExt::serve_http_with`] for a server already stripped of its type (or that
/// failed to build).
pub(crate) async fn serve_core_on(
    server: Result<Core, crate::server::BuildError>,
    config: HttpConfig,
    listener: tokio::net::TcpListener,
    mut options: ServeOptions,
) -> Result<(), HttpError> {
    let server = server?;
    let (router, mcp) = server.http_app(config)?;
    // The router is served as built, so its endpoint can be called directly.
    options.mcp = Some(Arc::new(mcp));
    let theirs = options.on_shutdown.take();
    options = options.on_shutdown(move || {
        server.hang_up_all();
        if let Some(hook) = theirs {
            hook();
        }
    });
    serve_with(listener, router, options).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    /// A server with nothing but the protocol: no tools, no scopes.
    struct Bare;

    impl McpServer for Bare {
        const INFO: crate::server::ServerInfo = crate::server::ServerInfo {
            name: "bare",
            version: "0",
            title: None,
            instructions: None,
        };
        const TOOLS: &'static [crate::tool::ToolDef<Self>] = &[];
        const SCOPES: &'static [&'static str] = &[];
        const IMPLICATIONS: &'static [crate::scope::Implication] = &[];
    }

    /// With its endpoint in the options, `serve_with` answers the endpoint's path itself: here
    /// the router has no route at all, so only the direct path can answer `ping`.
    #[tokio::test(flavor = "current_thread")]
    async fn serve_with_answers_its_endpoint_without_the_router() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = HttpConfig::new(format!("{base}/mcp"))
            .without_authorization()
            .stateless(true);
        let (_, mcp) = Server::new(Bare).unwrap().core.http_app(config).unwrap();
        let mut options = ServeOptions::default().shutdown_on(std::future::pending());
        options.mcp = Some(Arc::new(mcp));
        tokio::spawn(serve_with(listener, Router::new(), options));
        let client = reqwest::Client::new();
        let post = |path: &str| {
            client
                .post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
                .send()
        };
        let ping = post("/mcp").await.unwrap();
        assert_eq!(ping.status(), StatusCode::OK);
        let body: serde_json::Value = ping.json().await.unwrap();
        assert_eq!(body["result"], serde_json::json!({}));
        // Any other path is the router's: here, nothing.
        for path in ["/mcp/", "/other"] {
            assert_eq!(
                post(path).await.unwrap().status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
}

//! HTTPS on loopback for tests: a certificate authority generated per test ([`TestCa`], with
//! rcgen) and a tiny HTTPS server of fixed documents ([`DocumentServer`], with tokio-rustls)
//! whose certificate that CA signs for `127.0.0.1` and `localhost`. A client that should trust
//! the server is given [`TestCa::pem`]: scopegate through its configuration, Node through
//! `NODE_EXTRA_CA_CERTS`.
//!
//! Not part of `support`: include it with `#[path = "support/tls.rs"] mod tls;`.

// Each test crate compiles this module privately and uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority of the test's own, trusted by nothing else.
pub(crate) struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub(crate) fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "scopegate test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// The CA's certificate, PEM.
    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Writes [`Self::pem`] to a fresh file under the system's temporary directory.
    pub(crate) fn pem_file(&self) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "scopegate-test-ca-{}-{}.pem",
            std::process::id(),
            unique()
        ));
        std::fs::write(&path, self.pem()).unwrap();
        path
    }

    /// A TLS server configuration with a certificate for `127.0.0.1` and `localhost`, signed by
    /// this CA (the chain holds the leaf alone: clients trust the CA).
    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Arc::new(config)
    }
}

/// A number no other call in this process returns.
fn unique() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// One fixed answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// An HTTPS server on `127.0.0.1` answering GETs with fixed documents (404 for any other
/// path), counting the requests for each path. One request per connection.
pub(crate) struct DocumentServer {
    /// `https://127.0.0.1:PORT`.
    pub(crate) origin: String,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DocumentServer {
    pub(crate) async fn start(ca: &TestCa) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("https://{}", listener.local_addr().unwrap());
        let acceptor = TlsAcceptor::from(ca.server_config());
        let replies: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let task = tokio::spawn({
            let (replies, hits) = (Arc::clone(&replies), Arc::clone(&hits));
            async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (acceptor, replies, hits) =
                        (acceptor.clone(), Arc::clone(&replies), Arc::clone(&hits));
                    tokio::spawn(async move {
                        let answer = async {
                            let mut tls = acceptor.accept(tcp).await.ok()?;
                            let path = read_request_path(&mut tls).await?;
                            hits.lock().unwrap().push(path.clone());
                            let reply = replies.lock().unwrap().get(&path).cloned();
                            let reply = reply.unwrap_or(Reply {
                                status: 404,
                                headers: Vec::new(),
                                body: "not found".into(),
                            });
                            let mut head = format!(
                                "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                                reply.status,
                                reply.body.len()
                            );
                            for (name, value) in &reply.headers {
                                head.push_str(&format!("{name}: {value}\r\n"));
                            }
                            head.push_str("\r\n");
                            tls.write_all(head.as_bytes()).await.ok()?;
                            tls.write_all(reply.body.as_bytes()).await.ok()?;
                            tls.shutdown().await.ok()
                        };
                        let _ = tokio::time::timeout(Duration::from_secs(10), answer).await;
                    });
                }
            }
        });
        Self {
            origin,
            replies,
            hits,
            task,
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Answers GET `path` with `status`, these headers and `body`.
    pub(crate) fn reply(&self, path: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        let reply = Reply {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
        };
        self.replies.lock().unwrap().insert(path.to_owned(), reply);
    }

    /// Answers GET `path` with a JSON document, cached for `max_age` seconds.
    pub(crate) fn json(&self, path: &str, max_age: u32, body: &serde_json::Value) {
        let cache = format!("max-age={max_age}");
        self.reply(
            path,
            200,
            &[
                ("content-type", "application/json"),
                ("cache-control", cache.as_str()),
            ],
            &body.to_string(),
        );
    }

    /// How many requests `path` got.
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

impl Drop for DocumentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a request's head (at most 16 KiB) and returns its path.
async fn read_request_path(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.lines().next()?.split(' ');
    (parts.next()? == "GET").then_some(())?;
    Some(parts.next()?.to_owned())
}

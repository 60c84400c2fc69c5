//! Client of pbxd's control socket: HTTP/1.1 + JSON over a Unix socket, with the API version
//! check, Dutch errors that say what to do, and the event stream.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use pbx_api::{ApiError, ErrorBody, Method, HEADER_API, HEADER_VERSION};
use pbx_i18n::{Lang, Msg};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io;
use std::path::{Path, PathBuf};
use tokio::net::UnixStream;

/// The default socket path.
pub const DEFAULT_SOCKET: &str = "/run/pbxd/control.sock";

/// What can go wrong talking to pbxd.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nobody listens on the socket.
    #[error("pbxd draait niet")]
    NotRunning {
        /// The socket path.
        socket: PathBuf,
    },
    /// The socket exists but may not be opened.
    #[error("geen toegang tot de control-socket")]
    NoAccess {
        /// The socket path.
        socket: PathBuf,
    },
    /// pbxd answered with an error.
    #[error("{}", .error.message)]
    Api {
        /// HTTP status.
        status: u16,
        /// The error.
        error: ApiError,
    },
    /// pbxd speaks another API version.
    #[error("andere API-versie")]
    Version {
        /// Version header of the server.
        server: String,
    },
    /// A broken answer or connection.
    #[error("{0}")]
    Protocol(String),
}

impl ClientError {
    /// The message for people, in `lang`, with what to do.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            ClientError::NotRunning { socket } => Msg::new("client.not_running")
                .arg("socket", socket.display())
                .render(lang),
            ClientError::NoAccess { socket } => Msg::new("client.no_access")
                .arg("socket", socket.display())
                .render(lang),
            ClientError::Api { error, .. } => match &error.hint {
                Some(h) => format!(
                    "{}\n{}: {h}",
                    error.message,
                    pbx_i18n::tr(lang, "word.hint")
                ),
                None => error.message.clone(),
            },
            ClientError::Version { server } => Msg::new("client.version")
                .arg("server", server)
                .arg("api", pbx_api::API_VERSION)
                .render(lang),
            ClientError::Protocol(s) => Msg::new("client.protocol").arg("detail", s).render(lang),
        }
    }

    /// The sysexits code for this error.
    pub fn exit_code(&self) -> i32 {
        use pbx_model::ErrorCode as C;
        match self {
            ClientError::NotRunning { .. } => 69,
            ClientError::NoAccess { .. } => 77,
            ClientError::Version { .. } | ClientError::Protocol(_) => 76,
            ClientError::Api { error, .. } => match error.code {
                C::Forbidden => 77,
                C::NotFound | C::UnknownEndpoint => 66,
                C::Internal | C::Store => 70,
                _ => 65,
            },
        }
    }
}

/// A response: status, server version and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// pbxd's version.
    pub server_version: Option<String>,
    /// Body bytes.
    pub body: Bytes,
}

/// A client of one pbxd.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
    lang: Lang,
}

impl Client {
    /// A client for the socket at `socket`; errors come back in `lang`.
    pub fn new(socket: impl Into<PathBuf>, lang: Lang) -> Client {
        Client {
            socket: socket.into(),
            lang,
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn connect(&self) -> Result<http1::SendRequest<Full<Bytes>>, ClientError> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                    ClientError::NotRunning {
                        socket: self.socket.clone(),
                    }
                }
                io::ErrorKind::PermissionDenied => ClientError::NoAccess {
                    socket: self.socket.clone(),
                },
                _ => ClientError::Protocol(e.to_string()),
            })?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        tokio::spawn(async move {
            // The connection ends when the response is read or the server closes; nothing to report.
            let _ = conn.await;
        });
        Ok(sender)
    }

    fn build(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        Request::builder()
            .method(method.as_str())
            .uri(path)
            .header("host", "pbxd")
            .header("accept-language", self.lang.tag())
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    fn check_version(
        &self,
        resp: &hyper::Response<hyper::body::Incoming>,
    ) -> Result<Option<String>, ClientError> {
        let api = resp
            .headers()
            .get(HEADER_API)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let version = resp
            .headers()
            .get(HEADER_VERSION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match api {
            Some(a) if a == pbx_api::API_VERSION.to_string() => Ok(version),
            other => Err(ClientError::Version {
                server: other.unwrap_or_else(|| "?".into()),
            }),
        }
    }

    /// Sends a raw request; any status comes back as a [`Response`].
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Response, ClientError> {
        let mut sender = self.connect().await?;
        let req = self.build(method, path, body, content_type)?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let server_version = self.check_version(&resp)?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?
            .to_bytes();
        Ok(Response {
            status,
            server_version,
            body,
        })
    }

    /// Sends a request and returns the body of a 2xx answer; an error body becomes [`ClientError::Api`].
    pub async fn call_bytes(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Bytes, ClientError> {
        let r = self.raw(method, path, body, content_type).await?;
        if (200..300).contains(&r.status) {
            return Ok(r.body);
        }
        match serde_json::from_slice::<ErrorBody>(&r.body) {
            Ok(e) => Err(ClientError::Api {
                status: r.status,
                error: e.error,
            }),
            Err(_) => Err(ClientError::Protocol(format!(
                "HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ))),
        }
    }

    /// Sends JSON, expects JSON.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let bytes = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| ClientError::Protocol(e.to_string()))?,
            None => Vec::new(),
        };
        let out = self
            .call_bytes(method, path, bytes, "application/json")
            .await?;
        serde_json::from_slice(&out)
            .map_err(|e| ClientError::Protocol(format!("{e}: {}", String::from_utf8_lossy(&out))))
    }

    /// `GET` a JSON resource.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call::<(), T>(Method::Get, path, None).await
    }

    /// Opens the event stream: a snapshot first, then deltas, one JSON object per line.
    pub async fn events(&self) -> Result<EventStream, ClientError> {
        let mut sender = self.connect().await?;
        let req = self.build(
            Method::Get,
            &pbx_api::Route::Events.path(),
            Vec::new(),
            "application/json",
        )?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.check_version(&resp)?;
        if resp.status() != 200 {
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Protocol(e.to_string()))?
                .to_bytes();
            return match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(e) => Err(ClientError::Api {
                    status: 403,
                    error: e.error,
                }),
                Err(_) => Err(ClientError::Protocol(
                    String::from_utf8_lossy(&body).into_owned(),
                )),
            };
        }
        Ok(EventStream {
            body: resp.into_body(),
            buf: Vec::new(),
        })
    }
}

/// The event stream of pbxd.
pub struct EventStream {
    body: hyper::body::Incoming,
    buf: Vec<u8>,
}

impl EventStream {
    /// The next event; `None` when pbxd closed the stream.
    pub async fn next(&mut self) -> Option<Result<pbx_api::Event, ClientError>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(
                    serde_json::from_slice(&line).map_err(|e| ClientError::Protocol(e.to_string())),
                );
            }
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Err(e) => return Some(Err(ClientError::Protocol(e.to_string()))),
            }
        }
    }
}

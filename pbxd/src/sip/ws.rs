//! SIP over WebSocket (RFC 7118): `ws` and `wss` listeners for softphones in a browser.
//!
//! * The handshake must offer the subprotocol `sip` (§4); pbxd answers
//!   `Sec-WebSocket-Protocol: sip` and refuses a handshake without it with 400. TLS (wss) and
//!   the WebSocket handshake together take at most [`HANDSHAKE_TIMEOUT`]; wss uses the same
//!   reloadable certificate as the tls listeners (SIGHUP).
//! * One SIP message per text or binary frame, both ways (§5). A message larger than the SIP
//!   size limit closes the connection with 1009; a frame that is no SIP message is dropped by
//!   the SIP service like a bad datagram, and the connection stays. Pings are answered by
//!   tungstenite; a frame of only CRLFs (the RFC 5626 keep-alive some clients send) is
//!   answered with a CRLF frame.
//! * A connection counts in the same connection map and limit as TCP/TLS: responses and
//!   requests to the phone go back over it, keyed by the remote address, and its closing marks
//!   the registrations made over it unreachable (see `keepalive`).
//! * A connection that sends no SIP message within [`FIRST_MESSAGE`] after the handshake is
//!   closed; after that the idle limit of TCP holds (any frame, a ping too, counts).
//! * Browsers (JsSIP, SIP.js) get their media bridged per connection, see `webrtc`.

use super::webrtc::{FromPeer, Gateway};
use super::{Conns, Inbound, MAX_TCP_CONNECTIONS, TCP_IDLE};
use futures_util::{SinkExt, StreamExt};
use pbx_sip::msg::Limits;
use pbx_sip::transaction::TransportKind;
use pbx_webrtc::BridgeConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// TLS and WebSocket handshake together.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection without any SIP message this long after the handshake is closed.
pub(super) const FIRST_MESSAGE: Duration = Duration::from_secs(60);
/// Connections still in their handshake, per listener; more are closed at accept.
const MAX_PENDING_HANDSHAKES: usize = 256;
/// A frame to a peer that does not read is given up after this long (the connection closes).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Does a `Sec-WebSocket-Protocol` header offer `sip`? (A comma-separated list of tokens.)
pub(super) fn offers_sip(values: &[&str]) -> bool {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("sip"))
}

/// The handshake check: `sip` must be offered; the answer names it.
#[allow(clippy::result_large_err)] // the signature tungstenite asks for
fn check_handshake(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered: Vec<&str> = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if offers_sip(&offered) {
        resp.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
        return Ok(resp);
    }
    let mut refuse = ErrorResponse::new(Some(
        "WebSocket-subprotocol 'sip' vereist (RFC 7118)\n".to_string(),
    ));
    *refuse.status_mut() = StatusCode::BAD_REQUEST;
    Err(refuse)
}

fn ws_config() -> WebSocketConfig {
    let max = Limits::default().max_message;
    WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .max_write_buffer_size(4 * max)
}

/// Accepts WebSocket connections (wss when `tls` is given) until `stop`.
pub(super) async fn accept_ws(
    l: tokio::net::TcpListener,
    tls: Option<pbx_net::tls::TlsCertificate>,
    in_tx: mpsc::Sender<Inbound>,
    conns: Conns,
    bridges: BridgeConfig,
    mut stop: watch::Receiver<bool>,
) {
    let transport = if tls.is_some() {
        TransportKind::Wss
    } else {
        TransportKind::Ws
    };
    let name = super::transport_name(transport);
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let (stream, src) = tokio::select! {
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, transport = name, "SIP: accept mislukt");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let full = conns
            .lock()
            .map(|c| c.len() >= MAX_TCP_CONNECTIONS)
            .unwrap_or(true);
        if full {
            tracing::warn!(%src, transport = name, "SIP: te veel verbindingen, geweigerd");
            continue;
        }
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            tracing::warn!(%src, transport = name, "SIP: te veel lopende handshakes, geweigerd");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (in_tx, conns, tls) = (in_tx.clone(), conns.clone(), tls.clone());
        let gw = Gateway::new(bridges.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
            match tls {
                None => {
                    let hs = tokio::time::timeout_at(deadline, handshake(stream)).await;
                    drop(permit);
                    start_serving(hs, src, transport, in_tx, conns, gw).await;
                }
                Some(cert) => {
                    let hs = tokio::time::timeout_at(deadline, async {
                        let s = cert
                            .acceptor()
                            .accept(stream)
                            .await
                            .map_err(|e| format!("tls: {e}"))?;
                        handshake(s).await
                    })
                    .await;
                    drop(permit);
                    start_serving(hs, src, transport, in_tx, conns, gw).await;
                }
            }
        });
    }
}

/// Serves a connection whose handshake succeeded in time; logs why one did not.
async fn start_serving<S>(
    hs: Result<Result<WebSocketStream<S>, String>, tokio::time::error::Elapsed>,
    src: SocketAddr,
    transport: TransportKind,
    in_tx: mpsc::Sender<Inbound>,
    conns: Conns,
    gw: Gateway,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = super::transport_name(transport);
    match hs {
        Ok(Ok(ws)) => serve(ws, src, transport, in_tx, conns, gw).await,
        Ok(Err(e)) => {
            tracing::debug!(%src, transport = name, error = %e, "SIP: WebSocket-handshake mislukt")
        }
        Err(_) => {
            tracing::debug!(%src, transport = name, "SIP: WebSocket-handshake duurde te lang")
        }
    }
}

async fn handshake<S>(stream: S) -> Result<WebSocketStream<S>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio_tungstenite::accept_hdr_async_with_config(stream, check_handshake, Some(ws_config()))
        .await
        .map_err(|e| e.to_string())
}

/// The close frame for a read error, if one can still be sent.
fn close_for(e: &WsError) -> Option<CloseFrame> {
    let (code, reason) = match e {
        WsError::Capacity(_) => (CloseCode::Size, "bericht te groot"),
        WsError::Utf8(_) => (CloseCode::Invalid, "geen UTF-8"),
        WsError::Protocol(_) => (CloseCode::Protocol, "protocolfout"),
        _ => return None,
    };
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

/// One WebSocket connection: frames in go to the SIP service, what `conns` sends to `src` goes
/// out as one text frame per message. Ends when either side closes, on an error or when idle.
async fn serve<S>(
    mut ws: WebSocketStream<S>,
    src: SocketAddr,
    transport: TransportKind,
    in_tx: mpsc::Sender<Inbound>,
    conns: Conns,
    mut gw: Gateway,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = super::transport_name(transport);
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(256);
    if let Ok(mut c) = conns.lock() {
        c.insert(src, out_tx);
    }
    tracing::debug!(%src, transport = name, "SIP: WebSocket open");
    let mut deadline = Instant::now() + FIRST_MESSAGE;
    let mut seen_sip = false;
    loop {
        tokio::select! {
            out = out_rx.recv() => {
                let Some(bytes) = out else { break };
                let bytes = gw.outbound(bytes).await;
                let frame = match String::from_utf8(bytes) {
                    Ok(text) => Message::text(text),
                    Err(e) => Message::binary(e.into_bytes()),
                };
                match tokio::time::timeout(SEND_TIMEOUT, ws.send(frame)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(%src, transport = name, error = %e, "SIP: WebSocket versturen mislukt");
                        break;
                    }
                    Err(_) => {
                        tracing::debug!(%src, transport = name, "SIP: WebSocket-peer leest niet, verbinding gesloten");
                        break;
                    }
                }
            }
            r = tokio::time::timeout_at(deadline, ws.next()) => {
                let m = match r {
                    Err(_) => {
                        tracing::debug!(%src, transport = name, sip = seen_sip, "SIP: WebSocket inactief, gesloten");
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(CloseFrame {
                            code: CloseCode::Away,
                            reason: "inactief".into(),
                        }))).await;
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        tracing::debug!(%src, transport = name, error = %e, "SIP: ongeldig WebSocket-frame, verbinding gesloten");
                        if let Some(frame) = close_for(&e) {
                            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(frame))).await;
                        }
                        break;
                    }
                    Ok(Some(Ok(m))) => m,
                };
                let bytes: Vec<u8> = match m {
                    Message::Text(t) => t.as_bytes().to_vec(),
                    Message::Binary(b) => b.to_vec(),
                    Message::Close(_) => break,
                    // Pongs go out by themselves; any frame keeps a connection that has
                    // carried SIP alive.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {
                        if seen_sip {
                            deadline = Instant::now() + TCP_IDLE;
                        }
                        continue;
                    }
                };
                if !bytes.is_empty() && bytes.iter().all(|b| *b == b'\r' || *b == b'\n') {
                    // RFC 5626 keep-alive: CRLFCRLF is answered with CRLF.
                    if seen_sip {
                        deadline = Instant::now() + TCP_IDLE;
                    }
                    if bytes.len() >= 4 {
                        let _ = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text("\r\n"))).await;
                    }
                    continue;
                }
                seen_sip = true;
                deadline = Instant::now() + TCP_IDLE;
                let bytes = match gw.inbound(bytes).await {
                    FromPeer::Forward(b) => b,
                    FromPeer::Reply(r) => {
                        let frame = Message::text(String::from_utf8_lossy(&r).into_owned());
                        if tokio::time::timeout(SEND_TIMEOUT, ws.send(frame)).await.is_err() {
                            break;
                        }
                        continue;
                    }
                };
                let inbound = Inbound {
                    bytes,
                    src,
                    socket: usize::MAX,
                    transport,
                    closed: false,
                };
                if in_tx.send(inbound).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Ok(mut c) = conns.lock() {
        c.remove(&src);
    }
    tracing::debug!(%src, transport = name, "SIP: WebSocket gesloten");
    // Its registrations are unreachable now (see `keepalive`).
    let _ = in_tx
        .send(Inbound {
            bytes: Vec::new(),
            src,
            socket: usize::MAX,
            transport,
            closed: true,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sip_subprotocol_must_be_offered() {
        assert!(offers_sip(&["sip"]));
        assert!(offers_sip(&["chat, SIP"]));
        assert!(offers_sip(&["chat", " sip "]));
        assert!(!offers_sip(&[]));
        assert!(!offers_sip(&["sips, chat"]));
        assert!(!offers_sip(&[""]));
    }

    /// A served connection over an in-memory pipe and the client end of it.
    async fn pair() -> (
        WebSocketStream<tokio::io::DuplexStream>,
        mpsc::Receiver<Inbound>,
        Conns,
        SocketAddr,
    ) {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let (a, b) = tokio::io::duplex(256 * 1024);
        let mut req = "ws://pbx.test/"
            .into_client_request()
            .unwrap_or_else(|_| unreachable!());
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
        let (server, client) = tokio::join!(handshake(a), tokio_tungstenite::client_async(req, b));
        let (Ok(server), Ok((client, _))) = (server, client) else {
            panic!("handshake")
        };
        let (in_tx, in_rx) = mpsc::channel(16);
        let conns: Conns = Arc::default();
        let src = SocketAddr::from(([192, 0, 2, 1], 40000));
        let gw = Gateway::new(crate::sip::webrtc::bridge_config(
            &pbx_config::DaemonConfig::default().rtp,
            std::net::IpAddr::from([127, 0, 0, 1]),
        ));
        tokio::spawn(serve(
            server,
            src,
            TransportKind::Ws,
            in_tx,
            conns.clone(),
            gw,
        ));
        (client, in_rx, conns, src)
    }

    async fn close_code(
        client: &mut WebSocketStream<tokio::io::DuplexStream>,
    ) -> Option<CloseCode> {
        loop {
            match client.next().await {
                Some(Ok(Message::Close(c))) => return c.map(|c| c.code),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_sip_is_closed_after_a_minute() {
        let (mut client, mut in_rx, conns, src) = pair().await;
        let t0 = Instant::now();
        // Pings do not count as SIP.
        let _ = client.send(Message::Ping(b"x".to_vec().into())).await;
        assert_eq!(close_code(&mut client).await, Some(CloseCode::Away));
        let waited = t0.elapsed();
        assert!(
            waited >= FIRST_MESSAGE && waited < FIRST_MESSAGE + Duration::from_secs(2),
            "{waited:?}"
        );
        let closed = in_rx.recv().await.map(|m| (m.closed, m.src));
        assert_eq!(closed, Some((true, src)));
        assert!(conns.lock().map(|c| c.is_empty()).unwrap_or(false));
    }

    #[tokio::test(start_paused = true)]
    async fn after_sip_the_idle_limit_of_tcp_holds() {
        let (mut client, mut in_rx, conns, src) = pair().await;
        let options = "OPTIONS sip:pbx.test SIP/2.0\r\n\r\n";
        let _ = client.send(Message::text(options)).await;
        let got = in_rx.recv().await.map(|m| (m.closed, m.bytes));
        assert_eq!(got, Some((false, options.as_bytes().to_vec())));
        let t0 = Instant::now();
        // Well past the first minute the connection is still there, and answers go over it.
        tokio::time::sleep(Duration::from_secs(120)).await;
        let out = conns.lock().ok().and_then(|c| c.get(&src).cloned());
        let Some(out) = out else {
            panic!("connection gone after 120 s")
        };
        let _ = out.send(b"SIP/2.0 200 OK\r\n\r\n".to_vec()).await;
        match client.next().await {
            Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), "SIP/2.0 200 OK\r\n\r\n"),
            other => panic!("{other:?}"),
        }
        assert_eq!(close_code(&mut client).await, Some(CloseCode::Away));
        assert!(t0.elapsed() >= TCP_IDLE, "{:?}", t0.elapsed());
    }

    #[tokio::test]
    async fn a_message_above_the_limit_closes_with_1009() {
        let (mut client, mut in_rx, _conns, _) = pair().await;
        let big = "x".repeat(Limits::default().max_message + 1);
        let _ = client.send(Message::text(big)).await;
        assert_eq!(close_code(&mut client).await, Some(CloseCode::Size));
        assert_eq!(in_rx.recv().await.map(|m| m.closed), Some(true));
    }
}

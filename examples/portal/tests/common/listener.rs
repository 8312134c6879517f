//! The portal's card listener over real TLS on loopback, and raw clients of it.

use std::sync::Arc;

use rustls_pki_types::{PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use zvp_portal::serve::{self, Limits, TlsOptions};

use super::{TestPortal, now, pki};

/// The portal's card listener on 127.0.0.1 with `limits` and `options`: its port and its stop
/// switch.
pub async fn start(
    t: &TestPortal,
    limits: Limits,
    options: TlsOptions,
) -> (u16, tokio::sync::watch::Sender<bool>) {
    let server = pki().issue_tls_server(&["localhost"], now()).unwrap();
    let validator = pki().validator().unwrap().without_revocation_checking();
    let config = serve::tls_config(
        &validator,
        vec![server.der.clone()],
        PrivateKeyDer::Pkcs8(server.private_key()),
        options,
    )
    .unwrap();
    let listener = serve::listen(([127, 0, 0, 1], 0).into()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve::serve_tls(
        listener,
        config,
        t.portal.router(),
        limits,
        stopped,
    ));
    (port, stop)
}

/// A TCP connection to the portal from the loopback address `source`.
pub async fn tcp_from(source: [u8; 4], port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    socket.connect(([127, 0, 0, 1], port).into()).await
}

/// A TLS connection from `source` with `config`.
pub async fn tls_from(
    source: [u8; 4],
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = tcp_from(source, port).await?;
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// Sends a GET of `/` that closes the connection and reads the whole answer.
pub async fn get_root<S>(stream: &mut S) -> std::io::Result<Vec<u8>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// The status of an HTTP/1.1 answer.
pub fn status(answer: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(answer);
    assert!(text.starts_with("HTTP/1.1 "), "not HTTP/1.1: {text:.200}");
    text[9..12].parse().unwrap()
}

//! One HTTP connection: the protocol ALPN agreed on, hyper's header-read timeout, and an idle
//! timeout on the connection's bytes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tower::ServiceExt as _;
use zvp_web::{ClientCertificate, ConnectionIdentity, PeerAddress};

use super::{Limits, Shutdown};

/// The HTTP version a connection is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// HTTP/1.1: plain connections, and TLS unless ALPN agreed on `h2`. An HTTP/2 preface
    /// then ends the connection unanswered.
    Http1,
    /// HTTP/2, only after ALPN agreed on `h2`.
    Http2,
}

impl Protocol {
    /// The protocol for a TLS connection whose ALPN outcome is `alpn`.
    pub(super) fn from_alpn(alpn: Option<&[u8]>) -> Self {
        if alpn == Some(b"h2") {
            Self::Http2
        } else {
            Self::Http1
        }
    }
}

/// When a connection last moved, and how many of its requests are in flight.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last byte read or written, or the last request's end.
    last: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// Resolves once no request has been in flight and no byte moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let now = Instant::now();
            let wake = if self.in_flight.load(Ordering::Relaxed) > 0 {
                // A request in hand may legitimately be quiet (waiting for the EPD): look again
                // later.
                now + idle
            } else {
                let deadline = self.last() + idle;
                if deadline <= now {
                    return;
                }
                deadline
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that records when bytes move on it.
struct Watched<I> {
    inner: I,
    activity: Arc<Activity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `router` on one connection until it ends, idles out, or `shutdown` turns true.
pub(super) async fn serve_connection<I>(
    io: I,
    protocol: Protocol,
    router: Router,
    peer: SocketAddr,
    certificate: Option<ClientCertificate>,
    limits: &Limits,
    shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    // One identity cache per mutual-TLS connection (its certificate is fixed).
    let cache = certificate.as_ref().map(|_| ConnectionIdentity::default());
    let in_flight = Arc::clone(&activity);
    let service = router
        .map_request(move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(PeerAddress(peer));
            if let Some(certificate) = &certificate {
                request.extensions_mut().insert(certificate.clone());
            }
            if let Some(cache) = &cache {
                request.extensions_mut().insert(cache.clone());
            }
            request
        })
        .map_future(move |response| {
            let guard = InFlight::new(&in_flight);
            async move {
                let response = response.await;
                drop(guard);
                response
            }
        });
    let service = TowerToHyperService::new(service);
    let io = TokioIo::new(Watched {
        inner: io,
        activity: Arc::clone(&activity),
    });
    let idle = activity.idle_for(limits.idle_timeout);
    match protocol {
        Protocol::Http1 => {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(io, service);
            drive(connection, |c| c.graceful_shutdown(), idle, shutdown).await;
        }
        Protocol::Http2 => {
            let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .serve_connection(io, service);
            drive(connection, |c| c.graceful_shutdown(), idle, shutdown).await;
        }
    }
}

/// Runs `connection` until it ends; drops it (closing the stream) when `idle` resolves; when
/// `shutdown` turns true, lets it finish the request in hand and close (a keep-alive
/// connection would otherwise go on serving after the listener stopped).
async fn drive<C>(
    connection: C,
    graceful: impl FnOnce(Pin<&mut C>),
    idle: impl Future<Output = ()>,
    mut shutdown: Shutdown,
) where
    C: Future,
{
    tokio::pin!(connection);
    tokio::pin!(idle);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = idle.as_mut() => return,
        _ = shutdown.wait_for(|stopping| *stopping) => {}
    }
    graceful(connection.as_mut());
    tokio::select! {
        _ = connection.as_mut() => {}
        () = idle => {}
    }
}

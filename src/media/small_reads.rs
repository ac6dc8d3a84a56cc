//! The `webrtc` runtime of connections that only send media: the default one, except that
//! their UDP sockets read one datagram at a time.
//!
//! The default runtime turns on UDP receive coalescing (GRO) on every socket, and each
//! connection's driver then keeps two receive buffers sized for 64 coalesced datagrams
//! (2 × 96 KiB), filled with zeros when allocated, so resident from the start: on a WHEP
//! viewer's leg that was most of what the viewer cost the server. Such a leg receives only
//! STUN, DTLS and RTCP, a few small packets a second, for which the 2,000-byte buffers of
//! a socket without GRO do. GRO is switched off on the socket as well, so the kernel never
//! hands a coalesced batch to a buffer sized for one datagram.

use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime, Transmit,
};

/// `inner`, with sockets that read one datagram at a time.
#[derive(Debug)]
pub struct SmallReads {
    pub inner: Arc<dyn Runtime>,
}

impl Runtime for SmallReads {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        let wrapped = self.inner.wrap_udp_socket(socket)?;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if wrapped.max_gro_segments() > 1 {
            without_gro(fd)?;
            return Ok(Arc::new(OneDatagram(wrapped)));
        }
        // Where it cannot be switched off, coalescing stays, and so do the buffers it needs.
        Ok(wrapped)
    }

    fn wrap_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// Turns UDP receive coalescing off again on a socket the runtime turned it on for.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn without_gro(fd: std::os::fd::RawFd) -> io::Result<()> {
    let off: libc::c_int = 0;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live `c_int`, on a socket
    // the runtime's wrapper owns and keeps open.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_UDP,
            libc::UDP_GRO,
            (&raw const off).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A socket that says it reads one datagram at a time, so its driver sizes its buffers
/// for one.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[derive(Debug)]
struct OneDatagram(Arc<dyn AsyncUdpSocket>);

#[cfg(all(target_os = "linux", target_env = "gnu"))]
impl AsyncUdpSocket for OneDatagram {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        self.0.poll_send(cx, transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_recv(cx, bufs, meta)
    }

    fn max_gso_segments(&self) -> usize {
        self.0.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        1
    }
}

//! How long a worker waits on the server before it gives the server up
//! (docs/semantics.md#workers-and-daisy_context).
//!
//! A healthy server answers a connect, a handshake and a write at once; it may keep an
//! acquire request for as long as no block is ready, which is not a sign of a dead server.
//! So connect, handshake and writes have deadlines, while the wait for blocks has none and
//! is watched by the kernel instead: TCP keepalive probes the idle connection, and
//! `TCP_USER_TIMEOUT` bounds how long sent data may stay unacknowledged, so a server whose
//! host vanished (no FIN, no RST) is noticed too. A server process that dies closes its
//! sockets, which the worker sees at once.

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;

/// The deadlines and liveness probes of a worker's connection to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long opening the TCP connection may take (default 10 s).
    pub connect: Duration,
    /// How long the server may take to answer `Hello` (default 15 s).
    pub handshake: Duration,
    /// How long one write to the server may take (default 30 s).
    pub write: Duration,
    /// Idle time before the first keepalive probe (default 5 s); probes follow every
    /// `keepalive / 2` (at least 1 s), and 3 unanswered ones end the connection.
    pub keepalive: Duration,
    /// How long sent data may stay unacknowledged before the kernel drops the connection
    /// (default 15 s; `TCP_USER_TIMEOUT`, Linux).
    pub unacknowledged: Duration,
}

impl Timeouts {
    /// The defaults: connect 10 s, handshake 15 s, write 30 s, keepalive after 5 s idle,
    /// unacknowledged data 15 s.
    pub const DEFAULT: Self = Self {
        connect: Duration::from_secs(10),
        handshake: Duration::from_secs(15),
        write: Duration::from_secs(30),
        keepalive: Duration::from_secs(5),
        unacknowledged: Duration::from_secs(15),
    };

    /// The keepalive parameters: first probe after `keepalive` idle, then every half of it
    /// (at least 1 s), 3 probes.
    fn keepalive_params(&self) -> TcpKeepalive {
        let interval = (self.keepalive / 2).max(Duration::from_secs(1));
        let params = TcpKeepalive::new().with_time(self.keepalive.max(Duration::from_secs(1)));
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
        let params = params.with_interval(interval).with_retries(3);
        #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
        let _ = interval;
        params
    }

    /// Switches on the liveness probes of a connection: TCP keepalive and (Linux)
    /// `TCP_USER_TIMEOUT`.
    ///
    /// # Errors
    ///
    /// The operating system's error if an option cannot be set.
    pub(crate) fn watch(&self, stream: &TcpStream) -> std::io::Result<()> {
        let socket = SockRef::from(stream);
        socket.set_tcp_keepalive(&self.keepalive_params())?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        socket.set_tcp_user_timeout(Some(self.unacknowledged))?;
        Ok(())
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A duration for messages: "15 s", "0.2 s".
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_short() {
        assert_eq!(seconds(Duration::from_secs(15)), "15 s");
        assert_eq!(seconds(Duration::from_millis(200)), "0.2 s");
    }

    #[tokio::test]
    async fn probes_are_set_on_the_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        Timeouts::DEFAULT.watch(&stream).unwrap();
        let socket = SockRef::from(&stream);
        assert!(socket.keepalive().unwrap());
        #[cfg(target_os = "linux")]
        {
            assert_eq!(socket.tcp_keepalive_time().unwrap(), Duration::from_secs(5));
            assert_eq!(
                socket.tcp_keepalive_interval().unwrap(),
                Duration::from_secs(2)
            );
            assert_eq!(socket.tcp_keepalive_retries().unwrap(), 3);
            assert_eq!(
                socket.tcp_user_timeout().unwrap(),
                Some(Duration::from_secs(15))
            );
        }
    }
}

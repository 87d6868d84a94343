//! Which address the server listens on and tells workers to connect to (docs/semantics.md#the-distributed-run).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// Where workers may run, which decides where the server listens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Listen {
    /// On loopback (`127.0.0.1`): every worker runs on this machine. The default for threads
    /// and local processes.
    #[default]
    Loopback,
    /// On all interfaces, advertising `host` to workers, or the machine's default-route IPv4
    /// address (checked by a loopback connection to it, else `127.0.0.1`): workers may run on
    /// other machines.
    Network {
        /// The address workers connect to; detected if `None`.
        host: Option<String>,
    },
}

impl Listen {
    /// The address to bind and the host to advertise.
    pub(crate) fn resolve(&self) -> (SocketAddr, String) {
        match self {
            Self::Loopback => (
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                Ipv4Addr::LOCALHOST.to_string(),
            ),
            Self::Network { host } => {
                let host = host.clone().unwrap_or_else(default_route_address);
                // Workers told an IPv6 address need a socket that takes IPv6.
                let any = match host.parse::<IpAddr>() {
                    Ok(IpAddr::V6(_)) => IpAddr::from(Ipv6Addr::UNSPECIFIED),
                    _ => IpAddr::from(Ipv4Addr::UNSPECIFIED),
                };
                (SocketAddr::from((any, 0)), host)
            }
        }
    }
}

/// The IPv4 address of the default route, if a TCP connection to it works, else `127.0.0.1`.
#[must_use]
pub fn default_route_address() -> String {
    detect().map_or_else(|| Ipv4Addr::LOCALHOST.to_string(), |ip| ip.to_string())
}

fn detect() -> Option<IpAddr> {
    // Connecting a UDP socket sends nothing; it only picks the outgoing interface.
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(203, 0, 113, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    if ip.is_unspecified() {
        return None;
    }
    // Check that we can reach ourselves on it.
    let listener = TcpListener::bind((ip, 0)).ok()?;
    let address = listener.local_addr().ok()?;
    TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default() {
        let (bind, host) = Listen::default().resolve();
        assert_eq!(
            (bind.ip().to_string(), host),
            ("127.0.0.1".to_owned(), "127.0.0.1".to_owned())
        );
    }

    #[test]
    fn network_advertises_a_reachable_address() {
        let (bind, host) = Listen::Network { host: None }.resolve();
        assert!(bind.ip().is_unspecified());
        let ip: IpAddr = host.parse().unwrap();
        let listener = TcpListener::bind((ip, 0)).unwrap();
        TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_, given) = Listen::Network {
            host: Some("node7".into()),
        }
        .resolve();
        assert_eq!(given, "node7");
    }

    #[test]
    fn an_ipv6_host_gets_an_ipv6_socket() {
        let (bind, host) = Listen::Network {
            host: Some("::1".into()),
        }
        .resolve();
        assert_eq!(
            (bind.ip(), host.as_str()),
            (IpAddr::from(Ipv6Addr::UNSPECIFIED), "::1")
        );
        let listener = TcpListener::bind(bind).unwrap();
        TcpStream::connect(("::1", listener.local_addr().unwrap().port())).unwrap();
    }
}

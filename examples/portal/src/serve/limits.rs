//! The bounds on connections: timeouts, the global cap and the caps per source address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::config;

/// How long connections may take and how many may be open: one host cannot hold more than its
/// share, and a connection that does not move is closed within seconds.
///
/// [`Limits::default`] is `[server]`'s defaults; [`Limits::from`] reads a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most connections served at once; beyond, new connections wait in the listen queue.
    pub max_connections: usize,
    /// The most connections open at once from one source address (an IPv6 /64); beyond,
    /// a new one is closed at once.
    pub max_connections_per_address: usize,
    /// The most TLS handshakes in progress at once from one source address; beyond, a new
    /// connection is closed at once.
    pub max_handshakes_per_address: usize,
    /// From the accepted connection to the client's TLS ClientHello.
    pub client_hello_timeout: Duration,
    /// From the accepted connection to the end of the TLS handshake: the card's holder may
    /// have to choose the certificate and type the PIN within it.
    pub handshake_timeout: Duration,
    /// HTTP/1: from when the connection is ready for a request (after the handshake, or
    /// after the previous response) to the end of the request's header; so also how long an
    /// idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// No byte read or written while no request is in flight, for this long: the connection
    /// is closed (a response the client stopped reading; an idle HTTP/2 connection).
    pub idle_timeout: Duration,
    /// Source addresses without the caps per address: the trusted reverse proxies, whose one
    /// address carries every user's connections.
    pub exempt: Vec<IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        Self::from(&config::Server::default())
    }
}

impl From<&config::Server> for Limits {
    /// The limits of `[server]`; a zero count or timeout counts as 1 (zero would refuse or
    /// close every connection).
    fn from(server: &config::Server) -> Self {
        let seconds = |s: u32| Duration::from_secs(u64::from(s.max(1)));
        Self {
            max_connections: server.max_connections.max(1),
            max_connections_per_address: server.max_connections_per_address.max(1),
            max_handshakes_per_address: server.max_handshakes_per_address.max(1),
            client_hello_timeout: seconds(server.client_hello_timeout_seconds),
            handshake_timeout: seconds(server.handshake_timeout_seconds),
            header_read_timeout: seconds(server.header_read_timeout_seconds),
            idle_timeout: seconds(server.idle_timeout_seconds),
            exempt: Vec::new(),
        }
    }
}

/// What one source address holds.
#[derive(Debug, Default)]
struct Counts {
    connections: usize,
    handshakes: usize,
    /// Connections refused since the address was last below its caps (for the log).
    refused: u64,
}

/// The open connections and handshakes in progress per source address.
#[derive(Debug)]
pub(super) struct AddressTable {
    counts: Mutex<HashMap<IpAddr, Counts>>,
    max_connections: usize,
    max_handshakes: usize,
    exempt: Vec<IpAddr>,
}

/// The key a peer is counted under: IPv4 (also IPv4-mapped IPv6) as it is, IPv6 by its /64,
/// the smallest block one host is usually given (counting each /128 would give one host
/// 2^64 shares).
fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = v6.to_bits() & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from_bits(prefix))
        }
        v4 => v4,
    }
}

/// A connection let in: its places in the table, given back when dropped.
#[derive(Debug)]
pub(super) struct Admission {
    /// The connection's place (none for an exempt address).
    pub(super) connection: Option<Slot>,
    /// The handshake's place, to drop when the handshake is over.
    pub(super) handshake: Option<Slot>,
}

/// One counted connection or handshake.
#[derive(Debug)]
pub(super) struct Slot {
    table: Arc<AddressTable>,
    key: IpAddr,
    handshake: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.table.lock();
        if let Some(entry) = counts.get_mut(&self.key) {
            if self.handshake {
                entry.handshakes = entry.handshakes.saturating_sub(1);
            } else {
                entry.connections = entry.connections.saturating_sub(1);
            }
            if entry.connections == 0 && entry.handshakes == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl AddressTable {
    /// A table for `limits`.
    pub(super) fn new(limits: &Limits) -> Arc<Self> {
        Arc::new(Self {
            counts: Mutex::new(HashMap::new()),
            max_connections: limits.max_connections_per_address.max(1),
            max_handshakes: limits.max_handshakes_per_address.max(1),
            exempt: limits.exempt.iter().map(|ip| ip.to_canonical()).collect(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Counts>> {
        // The counts stay consistent whatever panicked while holding them: each change is one
        // integer.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a connection from `peer` in, with a handshake place when `handshake`, or `None`
    /// when its address is at a cap.
    pub(super) fn admit(self: &Arc<Self>, peer: IpAddr, handshake: bool) -> Option<Admission> {
        if self.exempt.contains(&peer.to_canonical()) {
            return Some(Admission {
                connection: None,
                handshake: None,
            });
        }
        let key = source_key(peer);
        let mut counts = self.lock();
        let entry = counts.entry(key).or_default();
        if entry.connections >= self.max_connections
            || (handshake && entry.handshakes >= self.max_handshakes)
        {
            entry.refused = entry.refused.saturating_add(1);
            // Once, twice, four times, …: what the operator needs, not a line per attempt.
            if entry.refused.is_power_of_two() {
                tracing::warn!(
                    event = "connections-refused-per-address",
                    address = %key,
                    refused = entry.refused,
                    connections = entry.connections,
                    handshakes = entry.handshakes
                );
            }
            return None;
        }
        entry.refused = 0;
        entry.connections += 1;
        if handshake {
            entry.handshakes += 1;
        }
        drop(counts);
        let slot = |handshake| Slot {
            table: Arc::clone(self),
            key,
            handshake,
        };
        Some(Admission {
            connection: Some(slot(false)),
            handshake: handshake.then(|| slot(true)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(connections: usize, handshakes: usize) -> Arc<AddressTable> {
        AddressTable::new(&Limits {
            max_connections_per_address: connections,
            max_handshakes_per_address: handshakes,
            exempt: vec!["10.0.0.9".parse().unwrap()],
            ..Limits::default()
        })
    }

    #[test]
    fn an_address_gets_its_caps_and_its_places_back() {
        let t = table(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = t.admit(a, true).unwrap();
        let second = t.admit(a, true).unwrap();
        assert!(t.admit(a, true).is_none(), "third handshake");
        let plain = t.admit(a, false).unwrap();
        assert!(t.admit(a, false).is_none(), "fourth connection");
        // Another address is counted apart; an exempt one not at all.
        assert!(t.admit("10.0.0.2".parse().unwrap(), true).is_some());
        for _ in 0..10 {
            let e = t.admit("10.0.0.9".parse().unwrap(), true).unwrap();
            assert!(e.connection.is_none() && e.handshake.is_none());
            std::mem::forget(e);
        }
        // A finished handshake frees its handshake place, not its connection place.
        let Admission {
            connection,
            handshake,
        } = first;
        drop(handshake);
        assert!(t.admit(a, false).is_none());
        drop(connection);
        drop(second);
        drop(plain);
        assert!(t.lock().get(&a).is_none(), "nothing left for the address");
        assert!(t.admit(a, true).is_some());
    }

    #[test]
    fn ipv6_is_counted_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            source_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            source_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}

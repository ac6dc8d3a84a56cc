//! Who is on the other end of a request, for what is counted per client (login
//! back-off, guests, connections): the peer, seen through the balancers this deployment
//! trusts. One rule for both edges.

use axum::http::HeaderMap;
use std::net::{IpAddr, Ipv6Addr};

/// The key a client address is counted under: an IPv4 address as it is, an IPv6 address
/// by its /64 (the block one subscriber is usually given, so that one client cannot
/// spread over its own addresses), an IPv4-mapped IPv6 address as the IPv4 address.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::from(u64::MAX));
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// The client behind a request: the peer, or, when the peer is one of the `trusted`
/// balancers, the last address in `X-Forwarded-For` that is not one (the hops before it
/// are the client's to write, so only what trusted balancers appended is believed).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let hops: Vec<IpAddr> = forwarded.flat_map(|v| v.split(',')).filter_map(|a| a.trim().parse().ok()).collect();
    hops.into_iter().map(|ip: IpAddr| ip.to_canonical()).rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balancer_is_seen_through_only_when_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.1, 203.0.113.9, 10.0.0.2".parse().unwrap());
        let balancer: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(client_ip(balancer, &headers, &[]), balancer);
        assert_eq!(client_ip(balancer, &headers, &[balancer]), "203.0.113.9".parse::<IpAddr>().unwrap());
        let outsider: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_ip(outsider, &headers, &[balancer]), outsider, "an untrusted peer's header is ignored");
    }
}

//! Who may open and join a WebSocket: the `Origin` allow-list (checked before the
//! upgrade), and the caps on joined connections per account and guests per client
//! address (checked at `join` and `follow_sales`), counted per node.

use crate::config::{AllowedOrigin, Config, normalize_origin, origin_of_url, split_host_port};
use crate::domain::AccountId;
use crate::error::{ApiError, Code};
use crate::peer::address_key;
use crate::state::Tally;
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};
use std::net::IpAddr;
use std::sync::Arc;

/// Refuses a browser page from an origin that is not allowed, before the upgrade:
/// `403 forbidden`. Allowed: no `Origin` header (not a browser), an origin whose host
/// name is the request's `Host` name (any scheme or port: cookies, which this check is
/// for, are scoped by host name, and a TLS-terminating balancer hides the scheme),
/// `public_url`'s origin, and the origins `allowed_origins` lists.
pub fn check_origin(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let public = config.public_url.as_deref().and_then(origin_of_url);
    if origin_allowed(origin.to_str().ok(), host, public.as_deref(), &config.allowed_origins) {
        return Ok(());
    }
    metrics::counter!("livecart_ws_refused_total", "reason" => "origin").increment(1);
    Err(ApiError::new(Code::Forbidden, "this origin may not open a WebSocket here (LIVECART_ALLOWED_ORIGINS)"))
}

fn origin_allowed(origin: Option<&str>, host: Option<&str>, public: Option<&str>, listed: &[AllowedOrigin]) -> bool {
    if listed.contains(&AllowedOrigin::Any) {
        return true;
    }
    // Not an origin at all (`null` from a sandboxed page or a file, garbage): refused.
    let Some(origin) = origin.and_then(normalize_origin) else { return false };
    let host_name = |authority: &str| split_host_port(authority).map(|(host, _)| host.to_ascii_lowercase());
    let origin_host = origin.split_once("://").and_then(|(_, authority)| host_name(authority));
    let same_host = origin_host.is_some() && origin_host == host.and_then(host_name);
    same_host || public == Some(origin.as_str()) || listed.contains(&AllowedOrigin::Exact(origin))
}

/// Joined connections per account and guest connections per client address on this
/// node. Each admitted connection holds a [`Pass`] that gives its place back on drop.
#[derive(Default)]
pub struct Admission {
    accounts: Tally<AccountId>,
    guests: Tally<IpAddr>,
}

/// A connection's place under a cap, given back when dropped.
pub struct Pass(Option<Release>);

enum Release {
    Account(Arc<Admission>, AccountId),
    Guest(Arc<Admission>, IpAddr),
}

impl Admission {
    /// A place for one more joined connection of `account`, unless it holds `cap`
    /// already (`0`: no cap): `too_many_connections`.
    pub fn account(self: &Arc<Self>, account: AccountId, cap: usize) -> Result<Pass, ApiError> {
        if cap == 0 {
            return Ok(Pass(None));
        }
        if !self.accounts.take(account, cap) {
            metrics::counter!("livecart_ws_refused_total", "reason" => "account").increment(1);
            let message = format!(
                "this account already has {cap} room or sales connections open on this server: close one, then join"
            );
            return Err(ApiError::new(Code::TooManyConnections, message));
        }
        Ok(Pass(Some(Release::Account(Arc::clone(self), account))))
    }

    /// A place for one more guest connection from `client`, unless its address holds
    /// `cap` already (`0`: no cap): `too_many_connections`.
    pub fn guest(self: &Arc<Self>, client: IpAddr, cap: usize) -> Result<Pass, ApiError> {
        if cap == 0 {
            return Ok(Pass(None));
        }
        let key = address_key(client);
        if !self.guests.take(key, cap) {
            metrics::counter!("livecart_ws_refused_total", "reason" => "guests").increment(1);
            let message =
                format!("{cap} guests from this address are already watching on this server: sign in, or close one");
            return Err(ApiError::new(Code::TooManyConnections, message));
        }
        Ok(Pass(Some(Release::Guest(Arc::clone(self), key))))
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        match self.0.take() {
            Some(Release::Account(admission, account)) => admission.accounts.give_back(&account),
            Some(Release::Guest(admission, key)) => admission.guests.give_back(&key),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(origin: &str, host: &str, listed: &[&str]) -> bool {
        let listed: Vec<AllowedOrigin> = listed.iter().map(|o| AllowedOrigin::parse(o).unwrap()).collect();
        origin_allowed(Some(origin), Some(host), None, &listed)
    }

    #[test]
    fn origins_are_matched_by_host_name_or_listed_exactly() {
        assert!(allowed("http://127.0.0.1:8080", "127.0.0.1:8080", &[]));
        // A balancer that forwards `Host` without the port, TLS terminated in front.
        assert!(allowed("https://LiveCart.example", "livecart.example", &[]));
        assert!(allowed("http://localhost:8080", "localhost", &[]));
        assert!(allowed("http://[::1]:3000", "[::1]:8080", &[]));
        assert!(!allowed("https://evil.example", "livecart.example", &[]));
        assert!(!allowed("https://livecart.example.evil.example", "livecart.example", &[]));
        assert!(!allowed("null", "livecart.example", &[]));
        assert!(allowed("https://shop.example:443", "livecart.example", &["https://shop.example/"]));
        assert!(!allowed("http://shop.example", "livecart.example", &["https://shop.example"]));
        assert!(!allowed("https://shop.example:8443", "livecart.example", &["https://shop.example"]));
        assert!(allowed("null", "livecart.example", &["*"]));
        let public = normalize_origin("https://node1.livecart.example/");
        assert!(origin_allowed(Some("https://node1.livecart.example"), Some("10.0.0.5:8080"), public.as_deref(), &[]));
        assert!(!origin_allowed(Some("https://evil.example"), None, public.as_deref(), &[]));
        // A public URL behind a balancer that routes a path prefix to this node.
        let public = origin_of_url("http://localhost:8080/nodes/node1");
        assert_eq!(public.as_deref(), Some("http://localhost:8080"));
        assert!(origin_allowed(Some("http://localhost:8080"), Some("node1:8080"), public.as_deref(), &[]));
    }

    #[test]
    fn origins_parse_strictly() {
        assert_eq!(normalize_origin("HTTP://Example.COM:80"), Some("http://example.com".into()));
        assert_eq!(normalize_origin("https://example.com:8443"), Some("https://example.com:8443".into()));
        assert_eq!(normalize_origin("http://[::1]:8080"), Some("http://[::1]:8080".into()));
        for bad in
            ["example.com", "https://", "https://a.example/path", "https://u@a.example", "https://a:99999", "://a"]
        {
            assert_eq!(normalize_origin(bad), None, "{bad}");
            assert!(AllowedOrigin::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(AllowedOrigin::parse(" * "), Ok(AllowedOrigin::Any));
    }

    #[test]
    fn addresses_are_counted_by_ipv4_address_or_ipv6_slash_64() {
        let v6 = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(v6("2001:db8:1:2:aaaa::1"), v6("2001:db8:1:2:bbbb::2"));
        assert_ne!(v6("2001:db8:1:2::1"), v6("2001:db8:1:3::1"));
        assert_eq!(v6("::ffff:10.0.0.1"), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn caps_hold_and_give_places_back() {
        let admission = Arc::new(Admission::default());
        let account = AccountId::try_from(7).unwrap();
        let first = admission.account(account, 2).unwrap();
        let _second = admission.account(account, 2).unwrap();
        assert_eq!(admission.account(account, 2).err().map(|e| e.code()), Some("too_many_connections"));
        drop(first);
        let _third = admission.account(account, 2).unwrap();
        let guest: IpAddr = "192.0.2.1".parse().unwrap();
        let one = admission.guest(guest, 1).unwrap();
        assert!(admission.guest(guest, 1).is_err());
        assert!(admission.guest("192.0.2.2".parse().unwrap(), 1).is_ok());
        drop(one);
        assert!(admission.guests.is_empty(), "no entry is left for an address without guests");
        assert!(admission.guest(guest, 0).is_ok() && admission.account(account, 0).is_ok());
    }
}

//! The SSRF guard: webhook targets are user-supplied URLs, so by default they may not reach
//! loopback, private, link-local (the cloud metadata address 169.254.169.254 among them),
//! unique-local, site-local, multicast, unspecified or reserved addresses, nor IPv4-mapped or
//! NAT64 forms of those, nor the 6to4 and Teredo tunnels (which reach IPv4 addresses).
//! Checked after DNS resolution (a custom resolver for the HTTP client) and for IP literals
//! (which the HTTP client never resolves, so they are checked before each request).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Why a text is not an IP network ([`IpNet::parse`], [`SsrfPolicy::allow`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidNetwork {
    /// The address part is not an IPv4 or IPv6 address.
    #[error("`{0}` is not an IP address or network")]
    NotAnAddress(String),
    /// The prefix length is not a number up to 32 (IPv4) or 128 (IPv6).
    #[error("`{0}` has a bad prefix length")]
    BadPrefix(String),
}

/// Why a webhook target URL is refused ([`SsrfPolicy::check_url`]). The messages name the URL
/// but never the address a name resolved to: they reach whoever gave the URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetRefused {
    /// The text does not parse as a URL.
    #[error("`{url}` is not a valid URL: {reason}")]
    NotAUrl {
        /// The text given.
        url: String,
        /// What the URL parser said.
        reason: String,
    },
    /// The scheme is neither `http` nor `https`.
    #[error("`{0}` must use http or https")]
    Scheme(String),
    /// The URL carries a user name or password.
    #[error("`{0}` must not carry credentials; use the webhook secret to authenticate")]
    Credentials(String),
    /// The URL has no host.
    #[error("`{0}` has no host")]
    NoHost(String),
    /// The host name does not resolve.
    #[error("the host of `{url}` does not resolve: {reason}")]
    Unresolvable {
        /// The URL.
        url: String,
        /// What the resolver said.
        reason: String,
    },
    /// The host name resolves to no address.
    #[error("the host of `{0}` resolves to no address")]
    NoAddress(String),
    /// An address of the host is not public and the policy does not allow it.
    #[error("`{0}` resolves to a non-public address; webhooks are not sent there unless the outbox's SSRF policy allows it")]
    NotPublic(String),
}

/// An IP network, e.g. `127.0.0.1/32` or `::1/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `addr/prefix` or a single address.
    pub fn parse(text: &str) -> Result<IpNet, InvalidNetwork> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| InvalidNetwork::NotAnAddress(text.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| InvalidNetwork::BadPrefix(text.to_owned()))?,
        };
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (bytes, bits) = (usize::from(prefix / 8), prefix % 8);
    a[..bytes] == b[..bytes] && (bits == 0 || (a[bytes] ^ b[bytes]) >> (8 - bits) == 0)
}

/// Which targets webhooks may be delivered to.
#[derive(Clone, Debug, Default)]
pub struct SsrfPolicy {
    allow: Vec<IpNet>,
    disabled: bool,
}

impl SsrfPolicy {
    /// The default: public addresses only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also allows `network`, e.g. `"127.0.0.1/32"` for tests or `"10.1.0.0/16"` for an
    /// internal receiver you trust.
    pub fn allow(mut self, network: &str) -> Result<Self, InvalidNetwork> {
        self.allow.push(IpNet::parse(network)?);
        Ok(self)
    }

    /// Turns the guard off. Only for receivers that are all under your control.
    pub fn allow_everything(mut self) -> Self {
        self.disabled = true;
        self
    }

    /// Whether `ip` may be a target.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.disabled || self.allow.iter().any(|net| net.contains(ip)) || is_public(ip)
    }

    /// Checks a target URL: its scheme, and every address its host resolves to.
    pub async fn check_url(&self, url: &str) -> Result<Url, TargetRefused> {
        let url = Url::parse(url).map_err(|e| TargetRefused::NotAUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetRefused::Scheme(url.into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetRefused::Credentials(url.into()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| TargetRefused::NoHost(url.to_string()))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| TargetRefused::Unresolvable {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(TargetRefused::NoAddress(url.into()));
        }
        // The message reaches whoever gave the URL (the management API answers with it), so
        // it does not say which internal address the name resolved to.
        if addrs.iter().any(|a| !self.permits(a.ip())) {
            return Err(TargetRefused::NotPublic(url.into()));
        }
        Ok(url)
    }

    /// A DNS resolver for the HTTP client that drops refused addresses, so a name that
    /// resolved to a public address at subscription time cannot be re-pointed inside.
    pub(crate) fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            policy: self.clone(),
        })
    }
}

/// Whether an address is globally routable (not loopback, private, link-local, ...).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0                                   // "this network"
        || a >= 240                                 // reserved
        || (a == 100 && (64..128).contains(&b))     // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0)           // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00         // unique local fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80         // link local fe80::/10
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x64 && segments[1] == 0xff9b && !is_public_v4(embedded_v4(ip)))
        || (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1) // local-use NAT64
        // Tunnels that reach IPv4 (6to4 2002::/16, Teredo 2001::/32): refused whole rather
        // than decoded, as no webhook receiver needs them.
        || segments[0] == 0x2002
        || (segments[0] == 0x2001 && segments[1] == 0)
        || (segments[0] & 0xffc0) == 0xfec0         // site local fec0::/10, deprecated
        || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, deprecated
}

fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// The HTTP client's resolver: system DNS, then the SSRF policy.
pub(crate) struct GuardedResolver {
    policy: SsrfPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                let message =
                    format!("`{host}` resolves only to addresses the SSRF policy refuses");
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    message,
                )) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_addresses_and_their_mapped_forms() {
        let policy = SsrfPolicy::new();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::808:808",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
            "feff::1",
        ] {
            assert!(
                !policy.permits(refused.parse().unwrap()),
                "{refused} must be refused"
            );
        }
        for allowed in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2001:4860:4860::8888",
            "2003::1",
        ] {
            assert!(
                policy.permits(allowed.parse().unwrap()),
                "{allowed} must be allowed"
            );
        }
    }

    #[test]
    fn an_allow_list_opens_exactly_its_networks() {
        let policy = SsrfPolicy::new()
            .allow("127.0.0.1/32")
            .unwrap()
            .allow("10.1.0.0/16")
            .unwrap();
        assert!(policy.permits("127.0.0.1".parse().unwrap()));
        assert!(!policy.permits("127.0.0.2".parse().unwrap()));
        assert!(policy.permits("10.1.200.3".parse().unwrap()));
        assert!(!policy.permits("10.2.0.1".parse().unwrap()));
        assert!(SsrfPolicy::new().allow("10.0.0.0/33").is_err());
        assert!(SsrfPolicy::new().allow("nonsense").is_err());
    }

    #[tokio::test]
    async fn urls_are_checked_for_scheme_credentials_and_addresses() {
        let policy = SsrfPolicy::new();
        for (url, why) in [
            ("ftp://example.com/x", "http or https"),
            ("http://user:pw@93.184.216.34/", "credentials"),
            ("http://169.254.169.254/latest/meta-data", "non-public"),
            ("http://[::ffff:127.0.0.1]:8080/", "non-public"),
            ("http://localhost:1/hook", "non-public"),
            ("not a url", "not a valid URL"),
        ] {
            let err = policy.check_url(url).await.unwrap_err();
            assert!(err.to_string().contains(why), "{url}: {err}");
        }
        // The address a name resolved to stays inside: the caller sees its own URL only.
        let err = policy
            .check_url("http://localhost:1/hook")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`http://localhost:1/hook` resolves to a non-public address; webhooks are not sent there unless the outbox's SSRF policy allows it"
        );
        assert!(policy
            .clone()
            .allow("127.0.0.1")
            .unwrap()
            .check_url("http://127.0.0.1:9/x")
            .await
            .is_ok());
    }
}

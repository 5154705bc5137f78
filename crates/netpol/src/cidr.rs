//! CIDR parsing and address matching for `ipBlock` peers, IPv4 and IPv6, without allocation.

use std::fmt;
use std::net::IpAddr;

/// An IPv4 or IPv6 network in CIDR notation, stored with its host bits cleared.
///
/// Kubernetes historically accepted non-canonical CIDRs such as `10.0.0.1/24` (newer API servers
/// only warn), so we accept them too and match them as the network they denote (`10.0.0.0/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cidr {
    /// An IPv4 network: address bits and prefix length (0..=32).
    V4 {
        /// The network address with host bits cleared.
        network: u32,
        /// The prefix length.
        prefix: u8,
    },
    /// An IPv6 network: address bits and prefix length (0..=128).
    V6 {
        /// The network address with host bits cleared.
        network: u128,
        /// The prefix length.
        prefix: u8,
    },
}

fn mask_v4(prefix: u8) -> u32 {
    // A /0 mask would be a shift by 32, which overflows; it means "no network bits".
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Cidr {
    /// Parses `ADDRESS/PREFIX`. A bare address is rejected, as the API server does for `ipBlock`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((addr, prefix)) = text.split_once('/') else {
            return Err(format!(
                "invalid CIDR {text:?}: expected ADDRESS/PREFIX, e.g. 10.0.0.0/8 or fd00::/8"
            ));
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid CIDR {text:?}: {addr:?} is not an IP address"))?;
        // Only plain decimal digits: `u8::from_str` would also accept a leading `+`.
        let prefix: u8 = if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) {
            prefix.parse().map_err(|_| {
                format!("invalid CIDR {text:?}: prefix length {prefix:?} is out of range")
            })?
        } else {
            return Err(format!(
                "invalid CIDR {text:?}: prefix length {prefix:?} is not a number"
            ));
        };
        match addr {
            IpAddr::V4(v4) if prefix <= 32 => Ok(Cidr::V4 {
                network: u32::from(v4) & mask_v4(prefix),
                prefix,
            }),
            IpAddr::V6(v6) if prefix <= 128 => Ok(Cidr::V6 {
                network: u128::from(v6) & mask_v6(prefix),
                prefix,
            }),
            IpAddr::V4(_) => Err(format!(
                "invalid CIDR {text:?}: an IPv4 prefix length must be 0..=32"
            )),
            IpAddr::V6(_) => Err(format!(
                "invalid CIDR {text:?}: an IPv6 prefix length must be 0..=128"
            )),
        }
    }

    /// Whether `ip` lies in this network. An IPv4 address never matches an IPv6 network and vice
    /// versa (IPv4-mapped IPv6 addresses are IPv6 addresses here).
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (Cidr::V4 { network, prefix }, IpAddr::V4(v4)) => {
                u32::from(v4) & mask_v4(prefix) == network
            }
            (Cidr::V6 { network, prefix }, IpAddr::V6(v6)) => {
                u128::from(v6) & mask_v6(prefix) == network
            }
            _ => false,
        }
    }

    /// Whether every address of `other` is in `self` (same family, longer-or-equal prefix).
    pub fn covers(&self, other: &Cidr) -> bool {
        match (*self, *other) {
            (
                Cidr::V4 { network, prefix },
                Cidr::V4 {
                    network: theirs,
                    prefix: their_prefix,
                },
            ) => their_prefix >= prefix && theirs & mask_v4(prefix) == network,
            (
                Cidr::V6 { network, prefix },
                Cidr::V6 {
                    network: theirs,
                    prefix: their_prefix,
                },
            ) => their_prefix >= prefix && theirs & mask_v6(prefix) == network,
            _ => false,
        }
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        match self {
            Cidr::V4 { prefix, .. } | Cidr::V6 { prefix, .. } => *prefix,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cidr::V4 { network, prefix } => {
                write!(f, "{}/{prefix}", std::net::Ipv4Addr::from(network))
            }
            Cidr::V6 { network, prefix } => {
                write!(f, "{}/{prefix}", std::net::Ipv6Addr::from(network))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cidr;
    use std::net::IpAddr;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("test cidr")
    }

    #[test]
    fn an_ipv4_cidr_contains_addresses_inside_its_prefix_only() {
        let net = cidr("10.1.0.0/16");
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
    }

    #[test]
    fn a_non_canonical_cidr_matches_the_network_it_denotes() {
        let net = cidr("10.1.2.3/24");
        assert_eq!(net.to_string(), "10.1.2.0/24");
        assert!(net.contains(ip("10.1.2.200")));
    }

    #[test]
    fn a_zero_prefix_matches_every_address_of_its_family_only() {
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!cidr("0.0.0.0/0").contains(ip("::1")));
        assert!(cidr("::/0").contains(ip("fd00::1")));
        assert!(!cidr("::/0").contains(ip("10.0.0.1")));
    }

    #[test]
    fn an_ipv4_address_never_matches_an_ipv6_cidr_even_when_mapped() {
        assert!(!cidr("::ffff:0:0/96").contains(ip("10.0.0.1")));
        assert!(cidr("::ffff:0:0/96").contains(ip("::ffff:10.0.0.1")));
    }

    #[test]
    fn ipv6_prefixes_match_bitwise() {
        let net = cidr("fd00:10::/32");
        assert!(net.contains(ip("fd00:10:ffff::1")));
        assert!(!net.contains(ip("fd00:11::1")));
        assert!(cidr("fd00::1/128").contains(ip("fd00::1")));
        assert!(!cidr("fd00::1/128").contains(ip("fd00::2")));
    }

    #[test]
    fn malformed_cidrs_are_rejected_with_the_reason() {
        for bad in [
            "10.0.0.0",
            "10.0.0/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "x/8",
        ] {
            let err = Cidr::parse(bad).expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn covers_requires_the_same_family_and_a_longer_prefix() {
        assert!(cidr("10.0.0.0/8").covers(&cidr("10.1.0.0/16")));
        assert!(!cidr("10.1.0.0/16").covers(&cidr("10.0.0.0/8")));
        assert!(!cidr("10.0.0.0/8").covers(&cidr("11.0.0.0/16")));
        assert!(!cidr("::/0").covers(&cidr("10.0.0.0/8")));
    }
}

//! IP addresses and CIDRs, with the network address required to be canonical.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parse an IP address (no prefix length, no zone).
pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
    if s.contains('/') {
        return Err("must be a single IP address, not a CIDR".to_string());
    }
    s.parse::<IpAddr>()
        .map_err(|_| "must be an IPv4 address such as 10.0.0.1 or an IPv6 address such as fd00::1 (no leading zeros in IPv4)".to_string())
}

/// Parse a CIDR such as `10.0.0.0/8` or `fd00::/8`. The address must be the network
/// address (host bits zero): `10.0.0.1/8` is refused with the canonical form named, because
/// such a typo usually means the user meant something narrower than what they would get.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let Some((addr, prefix)) = s.split_once('/') else {
        return Err(match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => format!("missing prefix length; for one address write {s}/32"),
            Ok(IpAddr::V6(_)) => {
                format!("missing prefix length; for one address write {s}/128")
            }
            Err(_) => "missing prefix length".to_string(),
        });
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IP address"))?;
    let max = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix_ok = !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'));
    let prefix: u8 = match prefix.parse::<u8>() {
        Ok(p) if prefix_ok && p <= max => p,
        _ => {
            return Err(format!(
                "the prefix length must be a number from 0 to {max} for an {} address",
                if max == 32 { "IPv4" } else { "IPv6" }
            ));
        }
    };
    let net = IpNet::new(addr, prefix).map_err(|_| "invalid prefix length".to_string())?;
    if net.addr() != net.network() {
        return Err(format!(
            "host bits must be zero; the canonical form is {}",
            net.trunc()
        ));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_refuse_cidrs_and_leading_zeros() {
        assert!(parse_ip("10.0.0.1").is_ok());
        assert!(parse_ip("fd00::1").is_ok());
        assert!(parse_ip("10.0.0.1/32").is_err());
        assert!(parse_ip("010.0.0.1").is_err());
        assert!(parse_ip("bao").is_err());
    }

    #[test]
    fn cidrs_must_have_a_prefix_in_range_and_zero_host_bits() {
        assert_eq!(
            parse_cidr("10.0.0.0/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert!(parse_cidr("fd00::/8").is_ok());
        assert!(parse_cidr("0.0.0.0/0").is_ok());
        assert!(parse_cidr("10.0.0.5/32").is_ok());
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("fd00::/129").is_err());
        assert!(parse_cidr("10.0.0.0/08").is_err());
        assert!(parse_cidr("10.0.0.0/").is_err());
        assert!(parse_cidr("010.0.0.0/8").is_err());
        assert!(
            parse_cidr("10.0.0.1")
                .expect_err("no prefix")
                .contains("10.0.0.1/32")
        );
        let err = parse_cidr("10.1.2.3/8").expect_err("host bits");
        assert!(err.contains("10.0.0.0/8"), "{err}");
        assert!(
            parse_cidr("fd00::1/64")
                .expect_err("host bits")
                .contains("fd00::/64")
        );
    }
}

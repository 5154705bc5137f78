//! Kubernetes quantities such as `10Gi`, `500M` or `1e9`.

/// A parsed Kubernetes quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity {
    /// True for a negative quantity such as `-1Gi`.
    pub negative: bool,
    /// True when the value is exactly zero.
    pub zero: bool,
    /// The absolute value in base units (bytes for storage), rounded up to a whole unit as
    /// Kubernetes does for storage requests.
    pub ceil_units: u64,
}

/// Significant digits kept exactly; further digits only round the value up.
const QUANTITY_DIGITS: usize = 20;

/// Parse a Kubernetes quantity: an optionally signed decimal number (`10`, `1.5`, `.5`)
/// followed by a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m k M G T P E) or
/// a decimal exponent (`1e9`, `5E-3`).
pub fn parse_quantity(s: &str) -> Result<Quantity, String> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let number_len = body
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, suffix) = body.split_at(number_len);
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return Err("must start with a number such as 10 or 1.5".to_string());
    }
    let (exp2, mut exp10): (u32, i64) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        other => {
            let exponent = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))
                .and_then(|e| {
                    let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| {
                        // Clamp: anything past 1000 is out of range either way.
                        let n = digits.parse::<i64>().unwrap_or(i64::MAX).min(1000);
                        if e.starts_with('-') { -n } else { n }
                    })
                });
            match exponent {
                Some(n) => (0, n),
                None => {
                    return Err(format!(
                        "unknown suffix {other:?}: use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, \
                         P, E or an integer exponent such as e9"
                    ));
                }
            }
        }
    };
    // Normalise to an integer mantissa of significant digits and a power of ten.
    let digits: String = format!("{int_part}{frac_part}");
    exp10 -= frac_part.len() as i64;
    let significant = digits.trim_start_matches('0');
    let zero = significant.is_empty();
    let kept = &significant[..significant.len().min(QUANTITY_DIGITS)];
    let dropped = &significant[kept.len()..];
    exp10 += dropped.len() as i64;
    let mut mantissa: u128 = 0;
    for d in kept.bytes() {
        mantissa = mantissa * 10 + u128::from(d - b'0');
    }
    if dropped.bytes().any(|b| b != b'0') {
        mantissa += 1;
    }
    let too_large = || "is too large: at most 9223372036854775807 base units".to_string();
    let scaled = mantissa << exp2;
    let ceil = if zero {
        0
    } else if exp10 >= 0 {
        if exp10 > 38 {
            return Err(too_large());
        }
        scaled
            .checked_mul(10u128.pow(exp10 as u32))
            .ok_or_else(too_large)?
    } else if -exp10 > 38 {
        1
    } else {
        scaled.div_ceil(10u128.pow((-exp10) as u32))
    };
    let ceil_units = u64::try_from(ceil)
        .ok()
        .filter(|v| *v <= i64::MAX as u64)
        .ok_or_else(too_large)?;
    Ok(Quantity {
        negative: negative && !zero,
        zero,
        ceil_units,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_understand_binary_decimal_and_exponent_suffixes() {
        let q = |s: &str| parse_quantity(s).map(|q| q.ceil_units);
        assert_eq!(q("10Gi"), Ok(10 << 30));
        assert_eq!(q("1Mi"), Ok(1 << 20));
        assert_eq!(q("1.5Gi"), Ok(3 << 29));
        assert_eq!(q("500M"), Ok(500_000_000));
        assert_eq!(q("1e9"), Ok(1_000_000_000));
        assert_eq!(q("1E3"), Ok(1_000));
        assert_eq!(q("1E"), Ok(1_000_000_000_000_000_000));
        assert_eq!(q("100m"), Ok(1));
        assert_eq!(q(".5"), Ok(1));
        assert_eq!(q("1048576"), Ok(1 << 20));
        assert_eq!(q("2.5e-1k"), Err("unknown suffix \"e-1k\": use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E or an integer exponent such as e9".into()));
        assert!(parse_quantity("0").is_ok_and(|q| q.zero));
        assert!(parse_quantity("-1Gi").is_ok_and(|q| q.negative));
        assert!(
            parse_quantity("0.000000000000000000000000001")
                .is_ok_and(|q| !q.zero && q.ceil_units == 1)
        );
        for bad in [
            "", "Gi", "10GB", "10gi", "1.2.3", "10 Gi", "1e", "1e1.5", "9Ei", "1e40", "--1",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
    }
}

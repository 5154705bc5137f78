//! The API server's service-account signing keys, from its JWKS (`/openid/v1/jwks`) to the
//! PEM public keys OpenBao's JWT auth verifies with (`jwt_validation_pubkeys`). OpenBao then
//! verifies the operator's tokens offline: it never calls the API server, so its egress stays
//! as the posture contract has it.
//!
//! Only what service-account signers use is understood: RSA, and EC on P-256 and P-384. The
//! DER is written here (a SubjectPublicKeyInfo is a few fixed prefixes and two integers).

use base64::Engine as _;
use serde::Deserialize;

/// A JWK set.
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// The fields of one JWK that a public key needs.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// Why a JWKS could not be turned into keys.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    /// Not a JWK set.
    #[error("the JWKS is not a JSON key set: {0}")]
    Shape(String),
    /// A key of a kind service-account signers do not use, or with a bad field.
    #[error("JWK {kid}: {reason}")]
    Key {
        /// The key id (or its index).
        kid: String,
        /// What is wrong.
        reason: String,
    },
    /// No signing key at all.
    #[error("the JWKS holds no signing key")]
    Empty,
}

/// The PEM public keys of every signing key in `jwks` (a JSON JWK set), in its order.
pub fn public_keys_pem(jwks: &str) -> Result<Vec<String>, JwksError> {
    let set: JwkSet = serde_json::from_str(jwks).map_err(|e| JwksError::Shape(e.to_string()))?;
    let mut out = Vec::new();
    for (i, key) in set.keys.iter().enumerate() {
        if key.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let kid = key.kid.clone().unwrap_or_else(|| format!("#{i}"));
        let der = spki_der(key).map_err(|reason| JwksError::Key {
            kid: kid.clone(),
            reason,
        })?;
        out.push(pem("PUBLIC KEY", &der));
    }
    if out.is_empty() {
        return Err(JwksError::Empty);
    }
    Ok(out)
}

fn field(value: &Option<String>, name: &str) -> Result<Vec<u8>, String> {
    let text = value.as_deref().ok_or_else(|| format!("missing {name}"))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| format!("{name} is not base64url: {e}"))
}

/// DER SubjectPublicKeyInfo of `key`.
fn spki_der(key: &Jwk) -> Result<Vec<u8>, String> {
    match key.kty.as_str() {
        "RSA" => {
            let n = field(&key.n, "n")?;
            let e = field(&key.e, "e")?;
            // rsaEncryption with NULL parameters.
            let algorithm = hex_bytes("300d06092a864886f70d0101010500");
            let public_key = der(0x30, &[der_integer(&n), der_integer(&e)].concat());
            Ok(der(0x30, &[algorithm, bit_string(&public_key)].concat()))
        }
        "EC" => {
            let (curve_oid, size) = match key.crv.as_deref() {
                Some("P-256") => ("06082a8648ce3d030107", 32),
                Some("P-384") => ("06052b81040022", 48),
                other => return Err(format!("unsupported EC curve {other:?} (P-256 or P-384)")),
            };
            let x = field(&key.x, "x")?;
            let y = field(&key.y, "y")?;
            if x.len() != size || y.len() != size {
                return Err(format!("x and y must be {size} bytes"));
            }
            // id-ecPublicKey and the named curve.
            let algorithm = der(
                0x30,
                &[hex_bytes("06072a8648ce3d0201"), hex_bytes(curve_oid)].concat(),
            );
            let point = [&[0x04][..], &x, &y].concat();
            Ok(der(0x30, &[algorithm, bit_string(&point)].concat()))
        }
        other => Err(format!("unsupported key type {other:?} (RSA or EC)")),
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    // Only called with the constant prefixes above.
    hex::decode(hex).unwrap_or_default()
}

/// A DER element: tag, definite length, contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A positive DER INTEGER from big-endian magnitude bytes.
fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = match magnitude.iter().position(|b| *b != 0) {
        Some(start) => &magnitude[start..],
        None => &[0],
    };
    let mut contents = Vec::with_capacity(trimmed.len() + 1);
    if trimmed[0] & 0x80 != 0 {
        contents.push(0);
    }
    contents.extend_from_slice(trimmed);
    der(0x02, &contents)
}

/// A DER BIT STRING with no unused bits.
fn bit_string(bytes: &[u8]) -> Vec<u8> {
    der(0x03, &[&[0u8][..], bytes].concat())
}

/// PEM armour of `der` under `label`, 64 columns.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn an_ec_key_becomes_the_spki_that_rcgen_writes_for_the_same_key() {
        // rcgen's P-256 key pair: its public key DER is the uncompressed point; its SPKI is
        // what the PEM must hold.
        let pair = rcgen::KeyPair::generate().expect("key");
        let point = pair.public_key_raw();
        assert_eq!(point.len(), 65);
        let jwks = format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"a","use":"sig","alg":"ES256","x":"{}","y":"{}"}}]}}"#,
            b64(&point[1..33]),
            b64(&point[33..])
        );
        let keys = public_keys_pem(&jwks).expect("keys");
        assert_eq!(keys, vec![pair.public_key_pem()]);
    }

    #[test]
    fn an_rsa_key_gets_positive_integers_and_long_form_lengths() {
        let n = [0xc3u8; 256];
        let jwks = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"r","n":"{}","e":"AQAB"}}]}}"#,
            b64(&n)
        );
        let keys = public_keys_pem(&jwks).expect("keys");
        let body: String = keys[0]
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64");
        // SEQUENCE (long form, two length bytes) ... INTEGER n with a leading zero (high bit
        // set), INTEGER e = 65537.
        assert_eq!(&der[..2], &[0x30, 0x82]);
        assert!(der.windows(4).any(|w| w == [0x02, 0x82, 0x01, 0x01]));
        assert!(der.ends_with(&[0x02, 0x03, 0x01, 0x00, 0x01]));
    }

    #[test]
    fn encryption_keys_are_skipped_and_unknown_kinds_are_named() {
        let only_enc = r#"{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"#;
        assert_eq!(public_keys_pem(only_enc), Err(JwksError::Empty));
        let okp = r#"{"keys":[{"kty":"OKP","kid":"ed","crv":"Ed25519","x":"AA"}]}"#;
        let err = public_keys_pem(okp).expect_err("unsupported");
        assert!(err.to_string().contains("JWK ed") && err.to_string().contains("OKP"));
        let wrong = r#"{"keys":[{"kty":"EC","kid":"c","crv":"P-256","x":"AA","y":"AA"}]}"#;
        assert!(public_keys_pem(wrong).is_err());
        assert!(matches!(public_keys_pem("[]"), Err(JwksError::Shape(_))));
    }
}

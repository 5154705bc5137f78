//! [`SecretString`]: a string that cannot be printed by accident and is wiped when dropped.

use std::fmt;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// A secret (root token, unseal or recovery key share, client token).
///
/// `Debug` and `Display` print `<redacted>`, so a secret that ends up in a log line, an error
/// message or a `{:?}` of a larger struct shows nothing. The only way to read the value is
/// [`SecretString::expose_secret`], which makes every use visible in review. The buffer is
/// zeroized on drop (each clone owns and wipes its own copy).
///
/// There is deliberately no `Serialize` and no `PartialEq`: serializing is how secrets reach
/// logs and status objects, and comparing secrets should be an explicit, reviewed decision.
#[derive(Clone, Default)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps `value`; the original allocation moves into the secret and is wiped with it.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret value. Never log or format it; hand it only to whatever needs the secret.
    pub fn expose_secret(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the secret is the empty string (OpenBao sends empty fields, e.g. no root token
    /// when a PGP key encrypts it).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = SecretString::new("s.very-secret");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.expose_secret(), "s.very-secret");
    }

    #[test]
    fn a_secret_deserializes_from_a_json_string() {
        let secret: SecretString = serde_json::from_str("\"abc\"").expect("decodes");
        assert_eq!(secret.expose_secret(), "abc");
        assert!(!secret.is_empty());
    }
}

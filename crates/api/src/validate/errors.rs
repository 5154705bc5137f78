//! The error types of validation, `FieldError` and `ValidationErrors`, and `key_path`, the
//! spelling of a field path shared with `decode`.

use std::fmt;

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, for example `spec.network.ingressRules[0].ports[1].endPort`.
    pub path: String,
    /// The offending value as the user wrote it (rendered compactly).
    pub value: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl FieldError {
    /// An error at `path` with `value` and a message saying what is allowed.
    pub fn new(
        path: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            value: value.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: invalid value {:?}: {}",
            self.path, self.value, self.message
        )
    }
}

/// Every field error found in one object.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// True when no error was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The errors.
    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// Record one error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Record an error at `path` with `value` and a message saying what is allowed.
    pub fn add(
        &mut self,
        path: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.push(FieldError::new(path, value, message));
    }

    /// Whether some error's path equals `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.0.iter().any(|e| e.path == path)
    }

    /// `Ok(())` when empty, the errors otherwise.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// `base.key` for a plain key, `base["key"]` for a map key with dots, slashes or spaces (label
/// keys, annotations), so a path stays unambiguous. Shared with `decode` so both spell paths alike.
pub fn key_path(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", quote(key)),
    }
}

/// A double-quoted, escaped rendering of `s` (JSON string syntax).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

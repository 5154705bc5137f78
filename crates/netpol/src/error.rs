//! Error types: load-time validation errors (object + field path) and per-flow evaluation errors.

use std::fmt;

use crate::model::Protocol;

/// A problem in one field, before it is attached to the object that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field path in API notation, e.g. `spec.ingress[0].from[1].ipBlock.cidr`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl FieldError {
    /// A field error at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Names an input object in messages: `NetworkPolicy x/deny-all`, `Namespace x`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// The object's kind (`Namespace`, `Pod`, `NetworkPolicy`).
    pub kind: String,
    /// The namespace for namespaced kinds.
    pub namespace: Option<String>,
    /// The object's name (may be empty when the object has none, which is itself an error).
    pub name: String,
}

impl ObjectRef {
    /// A reference to a namespaced object.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
        }
    }

    /// A reference to a cluster-scoped object.
    pub fn cluster(kind: &str, name: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            namespace: None,
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// An invalid input object: which object, which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The object holding the bad field.
    pub object: ObjectRef,
    /// The field path (e.g. `spec.egress[2].ports[0].endPort`).
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl LoadError {
    /// Attaches a field error to its object.
    pub fn at(object: &ObjectRef, error: FieldError) -> Self {
        Self {
            object: object.clone(),
            field: error.field,
            message: error.message,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.object, self.field, self.message)
    }
}

impl std::error::Error for LoadError {}

/// Every validation error found while building a world (never empty when returned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Why a flow could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// A pod id that does not belong to this world.
    UnknownPod(usize),
    /// A named port that the destination pod does not declare for the protocol.
    UnknownPortName {
        /// The destination pod, `namespace/name`.
        pod: String,
        /// The port name asked for.
        name: String,
        /// The protocol asked for.
        protocol: Protocol,
        /// The names the pod does declare for that protocol, for the message.
        declared: Vec<String>,
    },
    /// A named port towards an external address: only pods declare port names.
    NamedPortToExternal {
        /// The port name asked for.
        name: String,
    },
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::UnknownPod(id) => write!(f, "pod id {id} does not belong to this world"),
            FlowError::UnknownPortName {
                pod,
                name,
                protocol,
                declared,
            } => {
                write!(
                    f,
                    "pod {pod} declares no container port named {name:?} with protocol {protocol}"
                )?;
                if declared.is_empty() {
                    write!(f, " (it declares no named {protocol} ports)")
                } else {
                    write!(f, " (named {protocol} ports: {})", declared.join(", "))
                }
            }
            FlowError::NamedPortToExternal { name } => write!(
                f,
                "port name {name:?} cannot be resolved for an external destination; use a number"
            ),
        }
    }
}

impl std::error::Error for FlowError {}

//! The input model: protocols, namespaces, pods and their container ports.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A transport protocol a NetworkPolicy port can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP, the default when a port omits `protocol`.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// All protocols, in display order.
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The API spelling: `TCP`, `UDP`, `SCTP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;

    /// Parses the API spelling. Matching is case-sensitive because the API server rejects
    /// `tcp`; accepting it here would let a manifest pass that the cluster refuses.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            other => Err(format!(
                "unsupported protocol {other:?}; allowed: TCP, UDP, SCTP"
            )),
        }
    }
}

/// A namespace and its labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Namespace {
    /// The namespace name.
    pub name: String,
    /// Its labels. `kubernetes.io/metadata.name=<name>` is added when the world is built.
    pub labels: BTreeMap<String, String>,
}

impl Namespace {
    /// A namespace with no labels of its own.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            labels: BTreeMap::new(),
        }
    }

    /// Adds a label (builder style).
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
}

/// A port a pod's container declares (`containers[].ports[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    /// The port's name, if any; named ports in policies and probes resolve against it.
    pub name: Option<String>,
    /// The port number (1..=65535).
    pub port: u16,
    /// The protocol (TCP when the manifest omits it).
    pub protocol: Protocol,
}

/// A pod: where it lives, how it is labelled, its addresses and its declared ports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pod {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its IP addresses (one per family at most in a real cluster; may be empty, in which case
    /// no `ipBlock` can match it).
    pub ips: Vec<IpAddr>,
    /// The ports its containers declare.
    pub ports: Vec<ContainerPort>,
}

impl Pod {
    /// A pod with no labels, addresses or ports.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// Adds a label (builder style).
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Adds an address (builder style).
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ips.push(ip);
        self
    }

    /// Adds a declared container port (builder style).
    pub fn with_port(mut self, name: Option<&str>, port: u16, protocol: Protocol) -> Self {
        self.ports.push(ContainerPort {
            name: name.map(str::to_owned),
            port,
            protocol,
        });
        self
    }
}

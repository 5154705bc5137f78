//! Cluster names for pods without a DNS server: every pod's `/etc/hosts` lists the names a
//! cluster DNS would answer, rebuilt whenever pods or EndpointSlices change.
//!
//! The records come from EndpointSlices, like CoreDNS's: a ready endpoint (or any endpoint of
//! a Service with `publishNotReadyAddresses`, which the EndpointSlice controller marks ready)
//! gives `<svc>.<ns>.svc[.cluster.local]`, and one with a hostname (a pod whose
//! `spec.hostname`/`spec.subdomain` name the Service, as StatefulSet pods do) also gives
//! `<hostname>.<svc>.<ns>.svc[.cluster.local]`. Names relative to the pod's own namespace
//! (`<svc>`, `<hostname>.<svc>`) are listed too, because Go's resolver (OpenBao's) applies
//! search domains only to DNS queries, never to `/etc/hosts`.
//!
//! Differences from a real cluster, on purpose: a ClusterIP Service's name maps to its ready
//! endpoints' pod IPs (there is no kube-proxy to serve the ClusterIP), so clients must use the
//! target port; hostname records are listed for any Service, not only headless ones.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write,
    net::Ipv4Addr,
};

use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The cluster domain every name is also listed under.
pub(crate) const CLUSTER_DOMAIN: &str = "cluster.local";

/// What the hosts file says about the pod itself (the kubelet writes the same line).
#[derive(Clone, Debug)]
pub(crate) struct OwnPod {
    pub namespace: String,
    pub ip: Ipv4Addr,
    pub hostname: String,
    pub subdomain: Option<String>,
}

/// One address a Service name resolves to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Record {
    pub namespace: String,
    pub service: String,
    pub ip: String,
    pub hostname: Option<String>,
}

/// The records of ready endpoints in `slices`.
pub(crate) fn records<'a>(slices: impl IntoIterator<Item = &'a EndpointSlice>) -> Vec<Record> {
    let mut out = BTreeSet::new();
    for slice in slices {
        let (Some(namespace), Some(service)) = (
            slice.metadata.namespace.as_deref(),
            slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name")),
        ) else {
            continue;
        };
        if slice.address_type != "IPv4" {
            continue;
        }
        for endpoint in slice.endpoints.iter().flatten() {
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true);
            if !ready {
                continue;
            }
            for ip in &endpoint.addresses {
                out.insert(Record {
                    namespace: namespace.to_owned(),
                    service: service.clone(),
                    ip: ip.clone(),
                    hostname: endpoint.hostname.clone(),
                });
            }
        }
    }
    out.into_iter().collect()
}

/// The hosts file of one pod.
pub(crate) fn render(own: &OwnPod, records: &[Record], api_address: Ipv4Addr) -> String {
    let mut text = String::from(
        "# Kubernetes-managed hosts file (localcluster node: cluster names included).\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    match &own.subdomain {
        Some(sub) => {
            let fqdn = format!("{}.{sub}.{}.svc", own.hostname, own.namespace);
            let _ = writeln!(
                text,
                "{}\t{fqdn}.{CLUSTER_DOMAIN}\t{fqdn}\t{}",
                own.ip, own.hostname
            );
        }
        None => {
            let _ = writeln!(text, "{}\t{}", own.ip, own.hostname);
        }
    }
    let mut lines: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |ip: &str, names: Vec<String>| {
        lines.entry(ip.to_owned()).or_default().extend(names);
    };
    let kubernetes = "kubernetes.default.svc";
    let mut api_names = vec![
        format!("{kubernetes}.{CLUSTER_DOMAIN}"),
        kubernetes.to_owned(),
    ];
    api_names.push("kubernetes.default".to_owned());
    if own.namespace == "default" {
        api_names.push("kubernetes".to_owned());
    }
    add(&api_address.to_string(), api_names);
    for record in records {
        let local = record.namespace == own.namespace;
        let service = format!("{}.{}.svc", record.service, record.namespace);
        let mut names = vec![format!("{service}.{CLUSTER_DOMAIN}"), service.clone()];
        if local {
            names.push(record.service.clone());
        }
        if let Some(hostname) = &record.hostname {
            let fqdn = format!("{hostname}.{service}");
            names.push(format!("{fqdn}.{CLUSTER_DOMAIN}"));
            names.push(fqdn);
            if local {
                names.push(format!("{hostname}.{}", record.service));
            }
        }
        add(&record.ip, names);
    }
    for (ip, names) in lines {
        let names: Vec<String> = names.into_iter().collect();
        let _ = writeln!(text, "{ip}\t{}", names.join(" "));
    }
    text
}

/// `/etc/resolv.conf`: the search path a pod gets, and no name server (there is none; Go
/// then tries 127.0.0.1:53 in the pod's own namespace, which fails at once).
pub(crate) fn resolv_conf(namespace: &str) -> String {
    format!(
        "# localcluster node: cluster names are in /etc/hosts; there is no DNS server.\n\
         search {namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\n\
         options ndots:5\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slice(value: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(value).expect("a valid EndpointSlice")
    }

    #[test]
    fn statefulset_pods_get_their_stable_names_and_services_their_ready_endpoints() {
        let slices = [
            slice(json!({
                "metadata": { "name": "bao-internal-x", "namespace": "team",
                              "labels": { "kubernetes.io/service-name": "bao-internal" } },
                "addressType": "IPv4",
                "endpoints": [
                    { "addresses": ["10.244.3.2"], "hostname": "bao-0",
                      "conditions": { "ready": true } },
                    { "addresses": ["10.244.3.3"], "hostname": "bao-1",
                      "conditions": { "ready": false } },
                ],
            })),
            slice(json!({
                "metadata": { "name": "other-y", "namespace": "elsewhere",
                              "labels": { "kubernetes.io/service-name": "other" } },
                "addressType": "IPv4",
                "endpoints": [{ "addresses": ["10.244.3.9"] }],
            })),
        ];
        let records = records(&slices);
        assert_eq!(
            records.len(),
            2,
            "the unready endpoint has no record: {records:?}"
        );
        let own = OwnPod {
            namespace: "team".into(),
            ip: Ipv4Addr::new(10, 244, 3, 3),
            hostname: "bao-1".into(),
            subdomain: Some("bao-internal".into()),
        };
        let hosts = render(&own, &records, Ipv4Addr::new(10, 96, 0, 1));
        assert!(
            hosts.contains(
                "10.244.3.3\tbao-1.bao-internal.team.svc.cluster.local\tbao-1.bao-internal.team.svc\tbao-1\n"
            ),
            "{hosts}"
        );
        let bao0 = hosts
            .lines()
            .find(|l| l.starts_with("10.244.3.2\t"))
            .expect("a line for bao-0");
        for name in [
            "bao-0.bao-internal.team.svc",
            "bao-0.bao-internal.team.svc.cluster.local",
            "bao-0.bao-internal",
            "bao-internal.team.svc",
            "bao-internal",
        ] {
            assert!(bao0.split_whitespace().any(|n| n == name), "{name}: {bao0}");
        }
        let other = hosts
            .lines()
            .find(|l| l.starts_with("10.244.3.9\t"))
            .expect("a line for the other namespace");
        assert!(other.contains("other.elsewhere.svc"), "{other}");
        assert!(
            !other.split_whitespace().any(|n| n == "other"),
            "short names only for the pod's own namespace: {other}"
        );
        assert!(hosts.contains("10.96.0.1\tkubernetes.default"), "{hosts}");
    }

    #[test]
    fn the_resolver_searches_the_pods_namespace_first() {
        assert!(resolv_conf("team").contains("search team.svc.cluster.local svc.cluster.local"));
    }
}

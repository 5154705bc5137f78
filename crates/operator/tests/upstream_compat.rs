//! Upstream compatibility: `tests/upstream/` holds OpenBaoCluster manifests written in the
//! spelling of upstream's `openbao.org/v1alpha1` (dc-tec/openbao-operator), one per field group.
//! Each starts with three header lines:
//!
//! ```text
//! # group: <upstream field group>
//! # expect: accepted | refused <field path> <message substring>
//! # why: <one line>
//! ```
//!
//! Every manifest decodes strictly (each upstream field has a home in our types). Accepted ones
//! validate without errors, render (`desired::build`, serialized in apply order as `render`
//! prints it) to their golden file under `tests/upstream/golden/`, and their NetworkPolicies pass
//! the posture contract. Refused ones fail validation with an error at exactly the header's path
//! whose message contains the header's substring.
//!
//! Set `UPDATE_GOLDEN=1` to rewrite the golden files from the code.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::PathBuf;

use api::{OpenBaoCluster, ValidationErrors};
use fixtures::{check_or_update_golden, facts, updating_golden, workspace_root};
use operator::{cli, posture};

/// What a manifest's header says validation must do with it.
#[derive(Debug)]
enum Expect {
    Accepted,
    Refused { path: String, message: String },
}

#[derive(Debug)]
struct Manifest {
    /// File name, for example `01-minimal-development.yaml`.
    name: String,
    group: String,
    expect: Expect,
    why: String,
    text: String,
}

const NOT_YET: &str = "not supported yet";

fn upstream_dir() -> PathBuf {
    workspace_root().join("tests/upstream")
}

fn golden_dir() -> PathBuf {
    upstream_dir().join("golden")
}

fn parse_header(name: &str, text: &str) -> Result<(String, Expect, String), String> {
    let mut lines = text.lines();
    let mut field = |key: &str| -> Result<String, String> {
        let line = lines.next().unwrap_or_default();
        line.strip_prefix(&format!("# {key}: "))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{name}: header line `# {key}: ...` expected, found {line:?}"))
    };
    let group = field("group")?;
    let expect = field("expect")?;
    let why = field("why")?;
    let expect = if expect == "accepted" {
        Expect::Accepted
    } else if let Some(rest) = expect.strip_prefix("refused ") {
        let (path, message) = rest.trim().split_once(' ').ok_or_else(|| {
            format!(
                "{name}: `# expect: refused <field path> <message substring>`, found {expect:?}"
            )
        })?;
        Expect::Refused {
            path: path.to_string(),
            message: message.trim().to_string(),
        }
    } else {
        return Err(format!(
            "{name}: `# expect:` must be `accepted` or `refused <field path> <message substring>`, \
             found {expect:?}"
        ));
    };
    Ok((group, expect, why))
}

/// Every `tests/upstream/*.yaml`, sorted, with its header parsed (a bad header panics naming the
/// file).
fn manifests() -> Vec<Manifest> {
    fixtures::yaml_files("tests/upstream")
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name")
                .to_string();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{name}: cannot read: {e}"));
            let (group, expect, why) = parse_header(&name, &text).unwrap_or_else(|e| panic!("{e}"));
            Manifest {
                name,
                group,
                expect,
                why,
                text,
            }
        })
        .collect()
}

fn accepted() -> Vec<Manifest> {
    manifests()
        .into_iter()
        .filter(|m| matches!(m.expect, Expect::Accepted))
        .collect()
}

fn decode(m: &Manifest) -> Result<OpenBaoCluster, String> {
    api::decode::cluster_from_yaml_str(&m.text)
        .map_err(|e| format!("{}: must decode strictly, but: {}", m.name, list(&e)))
}

fn list(errors: &ValidationErrors) -> String {
    errors
        .iter()
        .map(|e| format!("\n    {e}"))
        .collect::<String>()
}

/// Panic with every problem, one per line, when there are any.
fn assert_none(what: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{what}: {} problem(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn every_upstream_manifest_has_a_numbered_name_and_group_expect_and_why_headers() {
    let all = manifests();
    assert!(all.len() >= 30, "only {} upstream manifests", all.len());
    let mut failures = Vec::new();
    for m in &all {
        let numbered = m.name.split_once('-').is_some_and(|(n, rest)| {
            n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()) && rest.len() > ".yaml".len()
        });
        if !numbered {
            failures.push(format!("{}: name must be NN-short-name.yaml", m.name));
        }
        if !m.text.contains("apiVersion: openbao.org/v1alpha1") {
            failures.push(format!(
                "{}: must be an openbao.org/v1alpha1 manifest",
                m.name
            ));
        }
        if m.group.is_empty() || m.why.is_empty() {
            failures.push(format!("{}: group and why must say something", m.name));
        }
    }
    let mut texts: Vec<&str> = all.iter().map(|m| m.text.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    if texts.len() != all.len() {
        failures.push("two manifests are identical".to_string());
    }
    let refused = all
        .iter()
        .filter(|m| matches!(m.expect, Expect::Refused { .. }))
        .count();
    if refused == 0 || refused == all.len() {
        failures.push(format!(
            "expected both accepted and refused manifests, found {refused} refused of {}",
            all.len()
        ));
    }
    assert_none("upstream manifest headers", failures);
}

#[test]
fn every_upstream_manifest_decodes_strictly() {
    let failures = manifests().iter().filter_map(|m| decode(m).err()).collect();
    assert_none("strict decoding", failures);
}

#[test]
fn every_accepted_upstream_manifest_validates_without_errors() {
    let mut failures = Vec::new();
    for m in accepted() {
        let Ok(cluster) = decode(&m) else { continue };
        if let Err(errors) = api::validate(&cluster) {
            failures.push(format!(
                "{}: expected accepted, got {} error(s):{}",
                m.name,
                errors.len(),
                list(&errors)
            ));
        }
    }
    assert_none("accepted manifests", failures);
}

#[test]
fn every_accepted_upstream_manifest_renders_to_its_committed_golden_file() {
    let mut failures = Vec::new();
    for m in accepted() {
        match cli::render::render_str(&m.text, &m.name, &facts()) {
            Err(e) => failures.push(format!(
                "{}: expected accepted, but it does not render:\n    {}",
                m.name,
                e.messages.join("\n    ")
            )),
            Ok(rendered) => {
                if !rendered.warnings.is_empty() {
                    failures.push(format!(
                        "{}: the renderer warned: {:?}",
                        m.name, rendered.warnings
                    ));
                }
                if let Err(e) = check_or_update_golden(
                    &golden_dir().join(&m.name),
                    &rendered.yaml,
                    "upstream_compat",
                ) {
                    failures.push(format!("{}: {e}", m.name));
                }
            }
        }
    }
    assert_none("upstream golden files", failures);
}

#[test]
fn every_accepted_upstream_manifest_passes_the_posture_contract() {
    let mut failures = Vec::new();
    for m in accepted() {
        let rendered = match cli::render::render_str(&m.text, &m.name, &facts()) {
            Ok(rendered) => rendered,
            Err(e) => {
                failures.push(format!(
                    "{}: expected accepted, but it does not render: {}",
                    m.name,
                    e.messages.join("; ")
                ));
                continue;
            }
        };
        let policies = match posture::network_policies_from_yaml(&rendered.yaml) {
            Ok(policies) => policies,
            Err(e) => {
                failures.push(format!("{}: rendered policies do not parse: {e}", m.name));
                continue;
            }
        };
        if policies.len() != 2 {
            failures.push(format!(
                "{}: expected the cluster and jobs NetworkPolicies, rendered {}",
                m.name,
                policies.len()
            ));
            continue;
        }
        match posture::verify_manifest(&m.text, &facts(), Some(&policies)) {
            Err(e) => failures.push(format!("{}: the posture check cannot run: {e}", m.name)),
            Ok(report) => failures.extend(report.failures().map(|f| {
                format!(
                    "{}: {} -> {} {}/{}: {}",
                    m.name, f.from.name, f.to.name, f.port, f.protocol, f.reason
                )
            })),
        }
    }
    assert_none("posture contract", failures);
}

/// What the rendering of an accepted manifest must show, per `/tmp/compat-decisions.md` and
/// docs/api-compatibility.md: a golden file freezes whatever the code renders, so the promises of
/// the decisions are checked on their own. Whitespace runs are compared as one space (HCL
/// attributes are aligned).
struct Promise {
    file: &'static str,
    /// Text that must appear at least this many times.
    shows: &'static [(&'static str, usize)],
    /// Text that must not appear.
    lacks: &'static [&'static str],
}

const PROMISES: &[Promise] = &[
    Promise {
        file: "03-unseal-transit.yaml",
        shows: &[
            (r#"seal "transit" {"#, 1),
            (r#"tls_ca_cert = "/etc/bao/seal-creds/ca.crt""#, 1),
            (r#"tls_server_name = "transit.example.com""#, 1),
            ("mountPath: /etc/bao/seal-creds", 1),
            ("secretName: transit-seal-token", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "04-unseal-awskms.yaml",
        shows: &[
            (r#"kms_key_id = "alias/openbao-unseal""#, 1),
            (
                "eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/openbao-unseal",
                1,
            ),
        ],
        lacks: &[],
    },
    Promise {
        file: "05-unseal-azurekeyvault.yaml",
        shows: &[
            (r#"vault_name = "example-openbao-vault""#, 1),
            ("secretName: azure-seal-principal", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "06-unseal-gcpckms.yaml",
        shows: &[
            (r#"crypto_key = "openbao-unseal-key""#, 1),
            (r#"credentials = "/etc/bao/seal-creds/credentials.json""#, 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "07-unseal-kmip.yaml",
        shows: &[
            (r#"kms_key_id = "8b5e4c1a-openbao-unseal""#, 1),
            (r#"client_cert = "/etc/bao/seal-creds/tls.crt""#, 1),
            (r#"client_key = "/etc/bao/seal-creds/tls.key""#, 1),
            ("kmip.example.com:5696", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "08-unseal-ocikms.yaml",
        shows: &[
            ("ocid1.key.oc1.eu-frankfurt-1.exampleexampleexample", 1),
            (
                "https://example-crypto.kms.eu-frankfurt-1.oraclecloud.com",
                1,
            ),
            (
                "https://example-management.kms.eu-frankfurt-1.oraclecloud.com",
                1,
            ),
        ],
        lacks: &[],
    },
    Promise {
        file: "09-unseal-pkcs11.yaml",
        shows: &[
            (r#"lib = "/usr/lib/softhsm/libsofthsm2.so""#, 1),
            (r#"slot = "0""#, 1),
            (r#"key_label = "openbao-unseal""#, 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "10-unseal-kms-plugin.yaml",
        shows: &[
            (r#"plugin_directory = "/openbao/plugins""#, 1),
            // The seal starts its plugin before unsealing: rendered from the start.
            (r#"plugin "kms" "corp-kms" {"#, 1),
            (
                r#"sha256sum = "3f2b6a1c9d8e7f60514a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e""#,
                1,
            ),
            (r#"seal "corp-kms" {"#, 1),
            ("mountPath: /openbao/plugins", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "11-unseal-static-custom-key.yaml",
        shows: &[
            (r#"current_key_id = "migrated-key-v1""#, 1),
            ("secretName: migrated-static-seal", 1),
        ],
        // With credentialsSecretRef the Secret supplies the key; none is generated or mounted.
        lacks: &["secretName: bao-static-unseal-key"],
    },
    Promise {
        file: "12-configuration-logging-and-tuning.yaml",
        shows: &[
            ("ui = false", 1),
            (r#"log_level = "error""#, 1),
            (r#"log_format = "json""#, 1),
            (r#"plugin_download_behavior = "continue""#, 1),
            (r#"max_lease_ttl = "720h""#, 1),
            ("enable_response_header_raft_node_id = true", 1),
            ("performance_multiplier = 2", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "13-listener-post-quantum.yaml",
        shows: &[
            (r#"tls_min_version = "tls13""#, 1),
            (
                r#"tls_key_exchange_preferences = ["X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024"]"#,
                1,
            ),
        ],
        lacks: &[],
    },
    Promise {
        file: "14-telemetry.yaml",
        shows: &[
            (r#"dogstatsd_addr = "203.0.113.40:8125""#, 1),
            ("maximum_gauge_cardinality = 500", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "15-network.yaml",
        shows: &[
            ("cidr: 169.254.20.10/32", 1),
            ("cidr: 203.0.113.5/32", 1),
            ("cidr: 203.0.113.128/25", 1),
            ("cidr: 203.0.113.0/24", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "16-gateway.yaml",
        shows: &[
            ("kind: HTTPRoute", 1),
            ("- bao.example.com", 1),
            ("sectionName: https", 1),
            ("example.com/owner: platform-team", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "17-service-loadbalancer.yaml",
        shows: &[
            ("type: LoadBalancer", 1),
            ("service.beta.kubernetes.io/aws-load-balancer-internal:", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "18-pods.yaml",
        shows: &[
            (
                "image: registry.example.com/mirror/openbao/openbao:2.4.4",
                1,
            ),
            ("name: registry-example-com", 1),
            ("cpu: 250m", 1),
            ("fsGroupChangePolicy: OnRootMismatch", 1),
            ("cost-center: security", 1),
            ("example.com/on-call: platform-oncall", 1),
            ("example.com/audit-owner: platform-team", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "19-maintenance-and-restart.yaml",
        // On the StatefulSet and on its pod template.
        shows: &[
            ("openbao.org/maintenance:", 2),
            ("openbao.org/restart-at:", 1),
            ("2026-08-01T12:00:00Z", 1),
        ],
        lacks: &[],
    },
    Promise {
        file: "28-plugins.yaml",
        shows: &[
            (r#"plugin_directory = "/openbao/plugins""#, 1),
            (r#"plugin_auto_download = true"#, 1),
            // The download goes to a pod-local volume: the root filesystem stays read-only.
            ("mountPath: /openbao/plugins", 1),
            ("sizeLimit: 1Gi", 1),
        ],
        // A secret plugin joins config.hcl only once the cluster is initialized.
        lacks: &[r#"plugin "secret""#],
    },
    Promise {
        file: "53-audit-file-storage.yaml",
        shows: &[
            ("kind: PersistentVolumeClaim", 1),
            ("name: bao-audit-storage-audit", 1),
            ("claimName: bao-audit-storage-audit", 1),
            ("- ReadWriteMany", 1),
            ("storageClassName: rwx-encrypted", 1),
            ("storage: 20Gi", 1),
            ("mountPath: /openbao/audit", 1),
            ("subPathExpr: $(BAO_K8S_POD_NAME)", 1),
        ],
        // Audit stanzas join config.hcl once the cluster is initialized.
        lacks: &[r#"audit "file""#],
    },
];

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_accepted_upstream_manifest_renders_what_the_compatibility_decisions_promise() {
    let accepted: Vec<Manifest> = accepted();
    let mut failures = Vec::new();
    for promise in PROMISES {
        let Some(m) = accepted.iter().find(|m| m.name == promise.file) else {
            failures.push(format!(
                "{}: no such accepted manifest in tests/upstream",
                promise.file
            ));
            continue;
        };
        let rendered = match cli::render::render_str(&m.text, &m.name, &facts()) {
            Ok(rendered) => squash(&rendered.yaml),
            Err(e) => {
                failures.push(format!(
                    "{}: expected accepted, but it does not render: {}",
                    m.name,
                    e.messages.join("; ")
                ));
                continue;
            }
        };
        for (text, at_least) in promise.shows {
            let found = rendered.matches(&squash(text)).count();
            if found < *at_least {
                failures.push(format!(
                    "{}: expected {text:?} at least {at_least} time(s) in the rendering, found {found}",
                    m.name
                ));
            }
        }
        for text in promise.lacks {
            if rendered.contains(&squash(text)) {
                failures.push(format!(
                    "{}: expected no {text:?} in the rendering, but it is there",
                    m.name
                ));
            }
        }
    }
    assert_none("rendering promises", failures);
}

#[test]
fn every_refused_upstream_manifest_is_refused_at_its_field_with_its_reason() {
    let mut failures = Vec::new();
    for m in manifests() {
        let Expect::Refused { path, message } = &m.expect else {
            continue;
        };
        let Ok(cluster) = decode(&m) else {
            failures.push(format!(
                "{}: expected refused by validation at {path}, but it does not even decode",
                m.name
            ));
            continue;
        };
        match api::validate(&cluster) {
            Ok(()) => failures.push(format!(
                "{}: expected refused at {path} ({message:?}), but it validates",
                m.name
            )),
            Err(errors) => {
                let hit = errors
                    .iter()
                    .any(|e| &e.path == path && e.message.contains(message.as_str()));
                if !hit {
                    failures.push(format!(
                        "{}: expected an error at {path} containing {message:?}, got:{}",
                        m.name,
                        list(&errors)
                    ));
                }
            }
        }
    }
    assert_none("refused manifests", failures);
}

#[test]
fn refusals_of_unbuilt_features_start_with_not_supported_yet_and_refusals_by_design_never_say_it() {
    let mut failures = Vec::new();
    for m in manifests() {
        let Expect::Refused { path, message } = &m.expect else {
            continue;
        };
        let Ok(Err(errors)) = decode(&m).map(|c| api::validate(&c)) else {
            // Reported by the test above.
            continue;
        };
        for e in errors.iter().filter(|e| &e.path == path) {
            if message == NOT_YET && !e.message.starts_with(NOT_YET) {
                failures.push(format!(
                    "{}: {path} is not built yet, so its message must start with {NOT_YET:?}: {}",
                    m.name, e.message
                ));
            }
            if message != NOT_YET && e.message.contains(NOT_YET) {
                failures.push(format!(
                    "{}: {path} is refused by design, so its message must not say {NOT_YET:?}: {}",
                    m.name, e.message
                ));
            }
        }
    }
    assert_none("refusal wording", failures);
}

#[test]
fn the_backup_manifest_is_accepted_and_gets_the_backup_jobs_service_account() {
    let m = manifests()
        .into_iter()
        .find(|m| m.name == "20-backup.yaml")
        .expect("tests/upstream/20-backup.yaml exists");
    let cluster = decode(&m).unwrap_or_else(|e| panic!("{e}"));
    let warnings = api::validate::warnings(&cluster);
    assert!(
        !warnings.iter().any(|w| w.starts_with("spec.backup:")),
        "{}: scheduled backups are built, no warning about them: {warnings:#?}",
        m.name
    );
    let validated = operator::desired::ValidatedCluster::new(cluster).expect("valid");
    let account = operator::desired::jobs::backup_service_account(&validated);
    assert!(operator::desired::jobs::backup_uses_projected_token(
        &validated
    ));
    assert_eq!(
        account.metadata.name.as_deref(),
        Some(format!("{}-backup", validated.names().cluster()).as_str())
    );
}

#[test]
fn every_upstream_golden_file_belongs_to_an_accepted_manifest() {
    if updating_golden() {
        // Being rewritten; stale files are reported on the next plain run.
        return;
    }
    let Ok(entries) = std::fs::read_dir(golden_dir()) else {
        return;
    };
    let accepted: Vec<String> = accepted().into_iter().map(|m| m.name).collect();
    let failures = entries
        .map(|e| e.expect("directory entry").file_name().to_string_lossy().to_string())
        .filter(|name| !accepted.contains(name))
        .map(|name| {
            format!(
                "tests/upstream/golden/{name}: no accepted tests/upstream/{name}; delete the stale file"
            )
        })
        .collect();
    assert_none("stale upstream golden files", failures);
}

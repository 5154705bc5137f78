//! The operator's ValidatingWebhookConfiguration: the deploy manifests' skeleton
//! (`install::deploy::webhook_configuration`: CREATE and UPDATE of OpenBaoClusters,
//! OpenBaoRestores and OpenBaoTenants, one webhook per kind at its own path, `failurePolicy:
//! Fail`, `sideEffects: None`, v1 reviews, 10 s timeout) completed with the CA bundle and the
//! client config this replica serves on (and, in a namespaced install, the same
//! `namespaceSelector` on the watched namespaces as the manifests), and applied whole with
//! server-side apply, so a wiped or edited registration is repaired on the next resync.

use k8s_openapi::{
    ByteString,
    api::admissionregistration::v1::{
        ServiceReference, ValidatingWebhookConfiguration, WebhookClientConfig,
    },
};
use kube::{
    Api,
    api::{Patch, PatchParams},
};

use crate::install::{
    controller::WEBHOOK_PATH,
    deploy::{self, ADMITTED_KINDS, DeployOptions, WEBHOOK_SERVICE_PORT},
};

/// Field manager of the registration.
pub const FIELD_MANAGER: &str = "openbao-operator-webhook";

/// Where the API server sends reviews.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientTarget {
    /// In cluster: the webhook Service (port 443) in the operator namespace.
    Service {
        /// The operator namespace.
        namespace: String,
        /// The Service.
        name: String,
    },
    /// Development: a URL (the webhook path is appended).
    Url(String),
}

/// What to register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// Name of the ValidatingWebhookConfiguration.
    pub name: String,
    /// Where reviews go.
    pub target: ClientTarget,
    /// The namespaces the operator watches: only their clusters are sent (a `namespaceSelector`
    /// on `kubernetes.io/metadata.name`). Empty: every namespace.
    pub watch_namespaces: Vec<String>,
}

/// `base` with a webhook `path`: `https://127.0.0.1:9443` and [`WEBHOOK_PATH`] give
/// `https://127.0.0.1:9443/validate-openbao-org-v1alpha1-openbaocluster`. A base that already
/// ends with one of the webhook's paths loses it first, so a URL given with the OpenBaoCluster
/// path still serves every kind at its own path.
pub fn url_with_path(base: &str, path: &str) -> String {
    let mut base = base.trim_end_matches('/');
    for kind in &ADMITTED_KINDS {
        if let Some(stripped) = base.strip_suffix(kind.path) {
            base = stripped.trim_end_matches('/');
            break;
        }
    }
    format!("{base}{path}")
}

/// The complete configuration, trusting `ca_bundle` (PEM).
pub fn webhook_configuration(
    registration: &Registration,
    ca_bundle: &str,
) -> ValidatingWebhookConfiguration {
    let namespace = match &registration.target {
        ClientTarget::Service { namespace, .. } => namespace.clone(),
        ClientTarget::Url(_) => String::new(),
    };
    // The deploy skeleton already scopes the registration to the watched namespaces, so the
    // operator's apply and the manifests agree on the selector.
    let options = DeployOptions {
        watch_namespaces: registration.watch_namespaces.clone(),
        ..DeployOptions::new(namespace)
    };
    let mut configuration = deploy::webhook_configuration(&options);
    configuration.metadata.name = Some(registration.name.clone());
    for webhook in configuration.webhooks.iter_mut().flatten() {
        // Each webhook keeps the path the skeleton gives its kind.
        let path = webhook
            .client_config
            .service
            .as_ref()
            .and_then(|service| service.path.clone())
            .unwrap_or_else(|| WEBHOOK_PATH.to_string());
        webhook.client_config = WebhookClientConfig {
            ca_bundle: Some(ByteString(ca_bundle.as_bytes().to_vec())),
            service: match &registration.target {
                ClientTarget::Service { namespace, name } => Some(ServiceReference {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    path: Some(path.clone()),
                    port: Some(WEBHOOK_SERVICE_PORT),
                }),
                ClientTarget::Url(_) => None,
            },
            url: match &registration.target {
                ClientTarget::Url(base) => Some(url_with_path(base, &path)),
                ClientTarget::Service { .. } => None,
            },
        };
    }
    configuration
}

/// Strategic-merge patch entries that switch a live webhook between `url` and `service`
/// (`null` deletes), for every webhook of `desired` whose live copy uses the other kind.
fn client_kind_switches(
    live: &ValidatingWebhookConfiguration,
    desired: &ValidatingWebhookConfiguration,
) -> Vec<serde_json::Value> {
    let live_webhooks = live.webhooks.as_deref().unwrap_or_default();
    desired
        .webhooks
        .iter()
        .flatten()
        .filter_map(|want| {
            let have = live_webhooks.iter().find(|h| h.name == want.name)?;
            let (name, want, have) = (&want.name, &want.client_config, &have.client_config);
            let stale = (want.url.is_some() && have.service.is_some())
                || (want.service.is_some() && have.url.is_some());
            stale.then(|| {
                serde_json::json!({
                    "name": name,
                    "clientConfig": { "url": want.url, "service": want.service },
                })
            })
        })
        .collect()
}

/// Apply `configuration` (server-side apply, forced: the operator owns its registration).
///
/// Server-side apply keeps fields other managers own, and `clientConfig.url` and `.service`
/// exclude each other: with the deploy manifests' skeleton (which names the Service) in
/// place, applying a development `url` would leave both. So a switch between the two is made
/// first with a strategic-merge patch that sets one and deletes the other.
pub async fn apply(
    api: &Api<ValidatingWebhookConfiguration>,
    configuration: &ValidatingWebhookConfiguration,
) -> Result<(), kube::Error> {
    let name = configuration.metadata.name.clone().unwrap_or_default();
    if let Some(live) = api.get_opt(&name).await? {
        let switches = client_kind_switches(&live, configuration);
        if !switches.is_empty() {
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PatchParams::default()
            };
            api.patch(
                &name,
                &params,
                &Patch::Strategic(serde_json::json!({ "webhooks": switches })),
            )
            .await?;
        }
    }
    let mut body = serde_json::to_value(configuration).map_err(kube::Error::SerdeError)?;
    body["apiVersion"] = "admissionregistration.k8s.io/v1".into();
    body["kind"] = "ValidatingWebhookConfiguration".into();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_registration_appends_the_path_and_carries_no_service() {
        let registration = Registration {
            name: "openbao-operator".to_string(),
            target: ClientTarget::Url("https://127.0.0.1:9443/".to_string()),
            watch_namespaces: Vec::new(),
        };
        let vwc = webhook_configuration(&registration, "PEM");
        let webhook = &vwc.webhooks.as_ref().expect("webhooks")[0];
        assert_eq!(
            webhook.client_config.url.as_deref(),
            Some("https://127.0.0.1:9443/validate-openbao-org-v1alpha1-openbaocluster")
        );
        assert!(webhook.client_config.service.is_none());
        assert_eq!(
            webhook
                .client_config
                .ca_bundle
                .as_ref()
                .map(|b| b.0.as_slice()),
            Some(b"PEM".as_slice())
        );
        assert_eq!(webhook.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(webhook.side_effects, "None");
        assert_eq!(webhook.timeout_seconds, Some(10));
        assert_eq!(webhook.admission_review_versions, vec!["v1".to_string()]);
        let rule = &webhook.rules.as_ref().expect("rules")[0];
        assert_eq!(
            rule.operations.as_deref(),
            Some(["CREATE".to_string(), "UPDATE".to_string()].as_slice())
        );
        assert_eq!(
            rule.resources.as_deref(),
            Some(["openbaoclusters".to_string()].as_slice())
        );
        assert!(webhook.namespace_selector.is_none());
        assert_eq!(
            url_with_path(
                "https://h:1/validate-openbao-org-v1alpha1-openbaocluster",
                WEBHOOK_PATH
            ),
            "https://h:1/validate-openbao-org-v1alpha1-openbaocluster"
        );
        assert_eq!(
            url_with_path(
                "https://h:1/validate-openbao-org-v1alpha1-openbaocluster/",
                "/validate-openbao-org-v1alpha1-openbaotenant"
            ),
            "https://h:1/validate-openbao-org-v1alpha1-openbaotenant"
        );
    }

    #[test]
    fn every_kind_is_registered_at_its_own_path_for_urls_and_services_alike() {
        let url = Registration {
            name: "vwc".to_string(),
            target: ClientTarget::Url("https://127.0.0.1:9443".to_string()),
            watch_namespaces: vec!["team-a".to_string()],
        };
        let service = Registration {
            target: ClientTarget::Service {
                namespace: "ops".to_string(),
                name: "hook".to_string(),
            },
            ..url.clone()
        };
        let by_url = webhook_configuration(&url, "PEM")
            .webhooks
            .expect("webhooks");
        let by_service = webhook_configuration(&service, "PEM")
            .webhooks
            .expect("webhooks");
        assert_eq!(by_url.len(), ADMITTED_KINDS.len());
        for ((kind, url), service) in ADMITTED_KINDS.iter().zip(&by_url).zip(&by_service) {
            assert_eq!(url.name, kind.webhook);
            assert_eq!(
                url.client_config.url.as_deref(),
                Some(format!("https://127.0.0.1:9443{}", kind.path).as_str())
            );
            let reference = service.client_config.service.as_ref().expect("service");
            assert_eq!(reference.path.as_deref(), Some(kind.path));
            let rule = &url.rules.as_ref().expect("rules")[0];
            assert_eq!(
                rule.resources.as_deref(),
                Some([kind.resource.to_string()].as_slice())
            );
            assert_eq!(url.namespace_selector, by_url[0].namespace_selector);
            assert!(url.namespace_selector.is_some());
        }
    }

    #[test]
    fn switching_between_url_and_service_deletes_the_other_kind_first() {
        let service = Registration {
            name: "vwc".to_string(),
            target: ClientTarget::Service {
                namespace: "ops".to_string(),
                name: "hook".to_string(),
            },
            watch_namespaces: Vec::new(),
        };
        let url = Registration {
            target: ClientTarget::Url("https://127.0.0.1:9443".to_string()),
            ..service.clone()
        };
        let live = webhook_configuration(&service, "PEM");
        let switches = client_kind_switches(&live, &webhook_configuration(&url, "PEM"));
        assert_eq!(switches.len(), ADMITTED_KINDS.len());
        assert_eq!(
            switches[0]["clientConfig"]["service"],
            serde_json::Value::Null
        );
        assert!(switches[0]["clientConfig"]["url"].is_string());
        assert_eq!(switches[0]["name"], "openbaoclusters.openbao.org");
        assert!(client_kind_switches(&live, &live).is_empty());
    }

    #[test]
    fn a_service_registration_names_the_service_on_443_and_watched_namespaces_scope_it() {
        let registration = Registration {
            name: "openbao-operator".to_string(),
            target: ClientTarget::Service {
                namespace: "ops".to_string(),
                name: "hook".to_string(),
            },
            watch_namespaces: vec!["team-a".to_string(), "team-b".to_string()],
        };
        let vwc = webhook_configuration(&registration, "PEM");
        let webhook = &vwc.webhooks.as_ref().expect("webhooks")[0];
        let service = webhook.client_config.service.as_ref().expect("service");
        assert_eq!(
            (
                service.namespace.as_str(),
                service.name.as_str(),
                service.port
            ),
            ("ops", "hook", Some(443))
        );
        assert_eq!(service.path.as_deref(), Some(WEBHOOK_PATH));
        assert!(webhook.client_config.url.is_none());
        let selector = webhook.namespace_selector.as_ref().expect("selector");
        assert!(selector.match_labels.is_none());
        let requirements = selector.match_expressions.as_ref().expect("expressions");
        assert_eq!(requirements.len(), 1);
        let requirement = &requirements[0];
        assert_eq!(
            (requirement.key.as_str(), requirement.operator.as_str()),
            (api::names::LABEL_NAMESPACE_NAME, "In")
        );
        assert_eq!(
            requirement.values.as_deref(),
            Some(["team-a".to_string(), "team-b".to_string()].as_slice())
        );
        // The manifests build the same selector for the same namespaces.
        let manifests = deploy::webhook_configuration(&DeployOptions {
            watch_namespaces: registration.watch_namespaces.clone(),
            ..DeployOptions::new("ops")
        });
        assert_eq!(
            manifests.webhooks.expect("webhooks")[0].namespace_selector,
            webhook.namespace_selector
        );
    }
}

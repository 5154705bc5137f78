//! The apply stage: server-side apply of every desired object with one field manager, in the
//! builders' dependency waves (policies first, the StatefulSet last, each wave in parallel),
//! skipping objects whose cached live copy already matches (so a no-op reconcile sends no
//! write), and pruning optional objects that are no longer desired.
//!
//! Two rules keep the posture intact: an object controlled by another owner (a colliding
//! cluster's) is never taken over, and the security kinds (NetworkPolicies, Roles,
//! RoleBindings) are compared whole and restored exactly, whoever added to them.

use std::fmt::Debug;

use api::names;
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::StatefulSet,
        core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount},
        networking::v1::{Ingress, NetworkPolicy},
        policy::v1::PodDisruptionBudget,
        rbac::v1::{Role, RoleBinding},
    },
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    core::PartialObjectMeta,
    runtime::reflector::{ObjectRef, Store},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Context, volumes};
use crate::desired::{BackendTLSPolicy, ClusterResources, Desired, HTTPRoute, ValidatedCluster};

/// The hash of the object the operator last applied, as an annotation: when a desired field
/// disappears (an annotation removed from the spec, say), the live object still contains the old
/// value and "desired is a subset of live" would hold; the hash tells the two apart.
pub use api::names::ANNOTATION_APPLIED_HASH;

/// Whether every field of `desired` is present in `live` with the same value. Empty lists and
/// maps in `desired` match absent fields (the API server drops them), lists must match element
/// by element (a rule added by hand to a policy is drift).
///
/// Resource quantities (the values of `requests` and `limits`, and `sizeLimit`) are compared by
/// value: the API server stores them in canonical form (`1000m` becomes `1`, `1024Mi` becomes
/// `1Gi`), and a spelling difference alone must not make every pass rewrite the object.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    subset_at(desired, live, false)
}

/// [`is_subset`], where `quantity` says the values compared are resource quantities.
fn subset_at(desired: &Value, live: &Value, quantity: bool) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(key, dv)| match l.get(key) {
            Some(lv) if key == "sizeLimit" => subset_at(dv, lv, true),
            Some(lv) if key == "requests" || key == "limits" => match (dv, lv) {
                (Value::Object(dq), Value::Object(lq)) => dq
                    .iter()
                    .all(|(name, dv)| lq.get(name).is_some_and(|lv| subset_at(dv, lv, true))),
                _ => subset_at(dv, lv, false),
            },
            Some(lv) => subset_at(dv, lv, false),
            None => is_empty(dv),
        }),
        (Value::Object(d), Value::Null) => d.is_empty(),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| subset_at(dv, lv, false))
        }
        (Value::Array(d), Value::Null) => d.is_empty(),
        (Value::String(d), Value::String(l)) if quantity && d != l => same_quantity(d, l),
        (d, l) => d == l,
    }
}

/// Whether two Kubernetes quantity strings denote the same amount (exactly, as fractions;
/// `false` when either does not parse or the arithmetic would overflow).
fn same_quantity(a: &str, b: &str) -> bool {
    let (Some((an, ad)), Some((bn, bd))) = (quantity(a), quantity(b)) else {
        return false;
    };
    match (an.checked_mul(bd), bn.checked_mul(ad)) {
        (Some(left), Some(right)) => left == right,
        _ => false,
    }
}

/// A quantity (`<signed decimal>[e<exponent>|<suffix>]`, suffixes `n u m k M G T P E` and
/// `Ki Mi Gi Ti Pi Ei`) as a fraction `(numerator, denominator)`.
fn quantity(text: &str) -> Option<(i128, i128)> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let ten = |power: u32| 10i128.checked_pow(power);
    let mut numerator: i128 = format!("{whole}{fraction}").parse().ok()?;
    let mut denominator = ten(u32::try_from(fraction.len()).ok()?)?;
    let (scale_up, scale_down) = match suffix {
        "" => (1, 1),
        "n" => (1, ten(9)?),
        "u" => (1, ten(6)?),
        "m" => (1, ten(3)?),
        "k" => (ten(3)?, 1),
        "M" => (ten(6)?, 1),
        "G" => (ten(9)?, 1),
        "T" => (ten(12)?, 1),
        "P" => (ten(15)?, 1),
        "E" => (ten(18)?, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        exponent => {
            let power: i32 = exponent.strip_prefix(['e', 'E'])?.parse().ok()?;
            if power >= 0 {
                (ten(power.unsigned_abs())?, 1)
            } else {
                (1, ten(power.unsigned_abs())?)
            }
        }
    };
    numerator = numerator.checked_mul(scale_up)?;
    denominator = denominator.checked_mul(scale_down)?;
    Some((if negative { -numerator } else { numerator }, denominator))
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Stamp `object` with the hash of its own content (see [`ANNOTATION_APPLIED_HASH`]).
fn stamp<K: Resource + Serialize>(object: &mut K) {
    let hash = serde_json::to_vec(object)
        .map(|bytes| hex::encode(&Sha256::digest(&bytes)[..12]))
        .unwrap_or_default();
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION_APPLIED_HASH.to_string(), hash);
}

/// How closely the live object must match the desired one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exactness {
    /// The fields the operator sets must hold its values; fields others add are left alone
    /// (Services get a clusterIP, StatefulSets defaults, ...).
    Subset,
    /// These top-level fields must equal the desired ones exactly: a field someone else added
    /// (an extra `matchLabels` key that makes a policy select nothing, an `endPort` that widens a
    /// rule, a rule or subject appended to a Role) is drift, and is removed by replacing the
    /// object. Used for the security-relevant kinds: NetworkPolicies, Roles and RoleBindings.
    Exact(&'static [&'static str]),
}

/// What applying one object did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The live object already matched; nothing was sent.
    Unchanged,
    /// A write was sent.
    Written,
    /// An object of that kind and name exists and is controlled by something else (another
    /// OpenBaoCluster whose derived names collide with this one's): it was left untouched.
    Conflict(NameConflict),
}

/// An object the operator would write that belongs to someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameConflict {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// `Kind/name` of its controlling owner.
    pub owner: String,
}

impl std::fmt::Display for NameConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} is controlled by {}",
            self.kind, self.name, self.owner
        )
    }
}

/// The controller owner of `live` when it is not the one `desired` names: the object belongs to
/// someone else and must not be taken over.
fn foreign_controller<K: Resource>(desired: &K, live: &K) -> Option<String> {
    let controller = |object: &K| {
        object
            .meta()
            .owner_references
            .as_ref()?
            .iter()
            .find(|o| o.controller == Some(true))
            .cloned()
    };
    let live_owner = controller(live)?;
    let ours = controller(desired)?;
    (live_owner.uid != ours.uid).then(|| format!("{}/{}", live_owner.kind, live_owner.name))
}

/// Whether the live object matches the desired one at `exactness`.
pub fn matches(desired: &Value, live: &Value, exactness: Exactness) -> bool {
    if !is_subset(desired, live) {
        return false;
    }
    match exactness {
        Exactness::Subset => true,
        Exactness::Exact(fields) => fields.iter().all(|field| {
            let d = desired.get(field).unwrap_or(&Value::Null);
            let l = live.get(field).unwrap_or(&Value::Null);
            is_subset(l, d)
        }),
    }
}

/// Apply `desired` unless `store`'s copy already matches at `exactness`. An object controlled
/// by another owner is never written (see [`Outcome::Conflict`]).
pub async fn apply_one<K>(
    api: &Api<K>,
    store: Option<&Store<K>>,
    mut desired: K,
    exactness: Exactness,
) -> Result<Outcome, ApplyError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    stamp(&mut desired);
    let name = desired.name_any();
    let namespace = desired.namespace().unwrap_or_default();
    let error = |source| ApplyError::Write {
        kind: K::kind(&()).to_string(),
        name: format!("{namespace}/{name}"),
        source,
    };
    let live = store.and_then(|store| store.get(&ObjectRef::<K>::new(&name).within(&namespace)));
    if let Some(live) = &live {
        if let Some(owner) = foreign_controller(&desired, live.as_ref()) {
            return Ok(Outcome::Conflict(NameConflict {
                kind: K::kind(&()).to_string(),
                name: name.clone(),
                owner,
            }));
        }
        let (Ok(d), Ok(l)) = (
            serde_json::to_value(&desired),
            serde_json::to_value(&**live),
        ) else {
            return Err(ApplyError::Serialize(format!(
                "{} {namespace}/{name}",
                K::kind(&())
            )));
        };
        if matches(&d, &l, exactness) {
            return Ok(Outcome::Unchanged);
        }

        if let Exactness::Exact(_) = exactness {
            // Server-side apply only sets the fields this manager owns; fields another manager
            // added would survive it. A replace, guarded by the live resourceVersion, restores
            // exactly the desired object (keeping only finalizers others rely on).
            let mut replacement = desired.clone();
            replacement.meta_mut().resource_version = live.meta().resource_version.clone();
            replacement.meta_mut().finalizers = live.meta().finalizers.clone();
            let params = PostParams {
                field_manager: Some(names::MANAGER.to_string()),
                ..PostParams::default()
            };
            match api.replace(&name, &params, &replacement).await {
                Ok(_) => return Ok(Outcome::Written),
                // An immutable field differs (a RoleBinding's roleRef: someone recreated it
                // pointing elsewhere): recreated below.
                Err(kube::Error::Api(status)) if status.code == 422 => {}
                Err(source) => return Err(error(source)),
            }
        }
    }
    let ssa = PatchParams::apply(names::MANAGER).force();
    match api.patch(&name, &ssa, &Patch::Apply(&desired)).await {
        Ok(_) => Ok(Outcome::Written),
        // A security object of that name that cannot be brought to the desired one in place
        // (an immutable field differs; also when it was never in the cache, e.g. created by hand
        // without the operator's labels): delete exactly that object (UID precondition) and
        // create the desired one, as `kubectl replace --force` would. An object controlled by
        // another owner is still never touched.
        Err(kube::Error::Api(status))
            if status.code == 422 && matches!(exactness, Exactness::Exact(_)) =>
        {
            let current = api.get(&name).await.map_err(error)?;
            if let Some(owner) = foreign_controller(&desired, &current) {
                return Ok(Outcome::Conflict(NameConflict {
                    kind: K::kind(&()).to_string(),
                    name: name.clone(),
                    owner,
                }));
            }
            let params = DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    uid: current.meta().uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(source) => return Err(error(source)),
            }
            api.patch(&name, &ssa, &Patch::Apply(&desired))
                .await
                .map_err(error)?;
            Ok(Outcome::Written)
        }
        Err(source) => Err(error(source)),
    }
}

/// What the apply stage can fail with; the variant is the metrics category.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Writing (or deleting, to recreate) an object failed.
    #[error("apply {kind} {name}: {source}")]
    Write {
        /// Kind.
        kind: String,
        /// `namespace/name`.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// An object could not be serialized for comparison.
    #[error("cannot serialize {0}")]
    Serialize(String),
    /// A step is still in progress (the StatefulSet being re-created for new claim templates);
    /// the next pass continues it.
    #[error("{0}")]
    Pending(String),
}

impl ApplyError {
    /// Short category for metrics, Events and requeue decisions.
    pub fn category(&self) -> &'static str {
        match self {
            ApplyError::Write { .. } => "ApplyFailed",
            ApplyError::Serialize(_) => "InternalError",
            ApplyError::Pending(_) => "Waiting",
        }
    }
}

/// What the apply stage did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Writes sent.
    pub writes: usize,
    /// Objects left alone because another owner controls them.
    pub conflicts: Vec<NameConflict>,
    /// Whether the StatefulSet was applied (it is held back while any object conflicts: its
    /// pods must never run without their own policy).
    pub statefulset_applied: bool,
    /// Whether this pass wrote the StatefulSet (the cache and its status show the old one
    /// until the watch delivers the new one).
    pub statefulset_written: bool,
    /// Problems that leave the cluster working but need attention: (reason, message).
    pub degraded: Vec<(String, String)>,
    /// Claim templates whose volumes were expanded (the StatefulSet was re-created).
    pub expanded: Vec<volumes::Grown>,
    /// Whether this pass wrote a NetworkPolicy (created, repaired or changed it).
    pub policies_written: bool,
}

impl Applied {
    fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Written => self.writes += 1,
            Outcome::Conflict(conflict) => self.conflicts.push(conflict),
        }
    }
}

/// NetworkPolicies are compared whole: their `spec` decides what reaches the pods.
const POLICY_FIELDS: Exactness = Exactness::Exact(&["spec"]);
/// RoleBindings are compared whole: who gets the role.
const BINDING_FIELDS: Exactness = Exactness::Exact(&["roleRef", "subjects"]);

/// How many objects of one cluster's wave are applied at once.
pub const PER_CLUSTER_PARALLELISM: usize = 8;
/// How many objects are applied at once across all clusters (what one operator asks of the API
/// server at most, whatever the number of clusters reconciled together).
pub const GLOBAL_PARALLELISM: usize = 32;

/// Apply every desired object, wave after wave ([`ClusterResources::in_waves`]): the objects
/// of a wave in parallel (at most [`PER_CLUSTER_PARALLELISM`] at once, and at most the
/// operator's global write budget across clusters), the next wave only when the whole wave
/// succeeded. With `security_only`, only the objects that make up the posture and the pods'
/// permissions (NetworkPolicies, Roles, RoleBindings) are applied: a paused cluster still gets
/// those repaired.
pub async fn apply_all(
    ctx: &Context,
    cluster: &ValidatedCluster,
    resources: &ClusterResources,
    gateway_api: bool,
    security_only: bool,
) -> Result<Applied, ApplyError> {
    use futures::{StreamExt, TryStreamExt};

    let mut applied = Applied::default();
    for wave in resources.in_waves() {
        let mut statefulset = None;
        let mut children = Vec::new();
        for object in wave {
            let security = matches!(object, Desired::NetworkPolicy(_) | Desired::RoleBinding(_));
            match object {
                _ if security_only && !security => {}
                Desired::HTTPRoute(_) if !gateway_api => {}
                Desired::BackendTLSPolicy(_) if !ctx.backend_tls_api => {}
                Desired::StatefulSet(o) => statefulset = Some(o),
                other => children.push(other),
            }
        }
        let outcomes: Vec<(bool, Outcome)> = futures::stream::iter(children)
            .map(|object| async move {
                let policy = matches!(object, Desired::NetworkPolicy(_));
                let _permit = ctx.write_budget.acquire().await;
                Ok::<_, ApplyError>((policy, apply_child(ctx, cluster, object).await?))
            })
            .buffer_unordered(PER_CLUSTER_PARALLELISM)
            .try_collect()
            .await?;
        for (policy, outcome) in outcomes {
            applied.policies_written |= policy && matches!(outcome, Outcome::Written);
            applied.record(outcome);
        }
        // The StatefulSet comes last, alone: anything that conflicted before it (its policy
        // above all) keeps its pods from ever being created.
        if let Some(o) = statefulset
            && applied.conflicts.is_empty()
        {
            let outcome = apply_statefulset(ctx, cluster, o, &mut applied).await?;
            applied.record(outcome);
        }
    }
    if !security_only {
        applied.writes += prune_unwanted(ctx, cluster, resources, gateway_api).await?;
    }
    Ok(applied)
}

/// Apply one child that is not the StatefulSet.
async fn apply_child(
    ctx: &Context,
    cluster: &ValidatedCluster,
    object: Desired,
) -> Result<Outcome, ApplyError> {
    let ns = cluster.namespace();
    let client = ctx.client.clone();
    let stores = &ctx.stores;
    match object {
        Desired::NetworkPolicy(o) => {
            apply_one(
                &Api::<NetworkPolicy>::namespaced(client, ns),
                Some(&stores.network_policies),
                o,
                POLICY_FIELDS,
            )
            .await
        }
        Desired::ServiceAccount(o) => {
            apply_one(
                &Api::<ServiceAccount>::namespaced(client, ns),
                Some(&stores.service_accounts),
                o,
                Exactness::Subset,
            )
            .await
        }
        Desired::RoleBinding(o) => {
            apply_one(
                &Api::<RoleBinding>::namespaced(client, ns),
                Some(&stores.role_bindings),
                o,
                BINDING_FIELDS,
            )
            .await
        }
        Desired::ConfigMap(o) => {
            apply_one(
                &Api::<ConfigMap>::namespaced(client, ns),
                Some(&stores.config_maps),
                o,
                Exactness::Subset,
            )
            .await
        }
        Desired::Service(o) => {
            apply_one(
                &Api::<Service>::namespaced(client, ns),
                Some(&stores.services),
                o,
                Exactness::Subset,
            )
            .await
        }
        Desired::PodDisruptionBudget(o) => {
            apply_one(
                &Api::<PodDisruptionBudget>::namespaced(client, ns),
                Some(&stores.pdbs),
                o,
                Exactness::Subset,
            )
            .await
        }
        Desired::HTTPRoute(o) => {
            apply_one(
                &Api::<HTTPRoute>::namespaced(client, ns),
                stores.http_routes.as_ref(),
                o,
                Exactness::Subset,
            )
            .await
        }
        Desired::PersistentVolumeClaim(o) => {
            ensure_claim(
                &Api::<PersistentVolumeClaim>::namespaced(client, ns),
                &stores.claims,
                cluster,
                o,
            )
            .await
        }
        Desired::BackendTLSPolicy(o) => {
            apply_one(
                &Api::<BackendTLSPolicy>::namespaced(client, ns),
                stores.backend_tls_policies.as_ref(),
                o,
                Exactness::Subset,
            )
            .await
        }
        Desired::Ingress(o) => {
            apply_one(
                &Api::<Ingress>::namespaced(client, ns),
                Some(&stores.ingresses),
                o,
                Exactness::Subset,
            )
            .await
        }
        // `apply_all` applies the StatefulSet itself, last and alone, recording what it did;
        // were it ever grouped with other objects it would still be applied correctly here.
        Desired::StatefulSet(o) => {
            let mut recorded_by_caller = Applied::default();
            apply_statefulset(ctx, cluster, o, &mut recorded_by_caller).await
        }
    }
}

/// Apply the StatefulSet: refuse to shrink its volumes, re-create it to grow them, and record
/// in `applied` whether it was applied and written.
async fn apply_statefulset(
    ctx: &Context,
    cluster: &ValidatedCluster,
    mut o: StatefulSet,
    applied: &mut Applied,
) -> Result<Outcome, ApplyError> {
    let ns = cluster.namespace();
    let client = ctx.client.clone();
    let stores = &ctx.stores;
    let live = stores
        .statefulsets
        .get(&ObjectRef::<StatefulSet>::new(&o.name_any()).within(ns));
    if let Some(live) = live {
        if live.metadata.deletion_timestamp.is_some() {
            return Err(ApplyError::Pending(format!(
                "StatefulSet {ns}/{} is being deleted",
                live.name_any()
            )));
        }
        let change = volumes::compare(&live, &o);
        if !change.shrunk.is_empty() {
            let problem = volumes::refuse_shrink(&live, &mut o, &change);
            applied.degraded.push(problem);
        } else if change.changed && foreign_controller(&o, &live).is_none() {
            let reshaped = volumes::reshape(&client, &live, &mut o, &change).await?;
            applied.writes += reshaped.writes;
            match reshaped.problem {
                Some(problem) => applied.degraded.push(problem),
                None => applied.expanded.extend(change.grown),
            }
        }
    }
    let outcome = apply_one(
        &Api::<StatefulSet>::namespaced(client, ns),
        Some(&stores.statefulsets),
        o,
        Exactness::Subset,
    )
    .await?;
    applied.statefulset_applied = !matches!(outcome, Outcome::Conflict(_));
    applied.statefulset_written = matches!(outcome, Outcome::Written);
    Ok(outcome)
}

/// Create `desired` (the audit claim) when no claim of its name exists. A claim's spec is
/// immutable once bound (and growing it is the storage class's business), so an existing one
/// is left as it is: one read per pass, no write. A claim of that name that is not this
/// cluster's (without its labels) is never mounted: it is reported as a conflict, which holds
/// the StatefulSet back.
async fn ensure_claim(
    api: &Api<PersistentVolumeClaim>,
    store: &Store<PartialObjectMeta<PersistentVolumeClaim>>,
    cluster: &ValidatedCluster,
    mut desired: PersistentVolumeClaim,
) -> Result<Outcome, ApplyError> {
    let name = desired.name_any();
    let error = |source| ApplyError::Write {
        kind: "PersistentVolumeClaim".to_string(),
        name: format!("{}/{name}", cluster.namespace()),
        source,
    };
    let ours = |labels: &std::collections::BTreeMap<String, String>| {
        cluster
            .names()
            .selector_labels()
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    };
    // The metadata cache holds the claims labelled with a cluster: one of ours found there
    // needs no read (a claim is created once and never updated). Anything else is read, so a
    // claim someone else made under the name is still told apart.
    let cached = store.get(&ObjectRef::new(&name).within(cluster.namespace()));
    if cached.is_some_and(|claim| ours(claim.labels())) {
        return Ok(Outcome::Unchanged);
    }
    match api.get_opt(&name).await.map_err(error)? {
        Some(live) => Ok(if ours(live.labels()) {
            Outcome::Unchanged
        } else {
            Outcome::Conflict(NameConflict {
                kind: "PersistentVolumeClaim".to_string(),
                name,
                owner: "someone else (it lacks this cluster's labels)".to_string(),
            })
        }),
        None => {
            stamp(&mut desired);
            let params = PostParams {
                field_manager: Some(names::MANAGER.to_string()),
                ..PostParams::default()
            };
            match api.create(&params, &desired).await {
                Ok(_) => Ok(Outcome::Written),
                // Created meanwhile (another pass): the next pass reads it.
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(Outcome::Unchanged),
                Err(source) => Err(error(source)),
            }
        }
    }
}

/// Delete the optional objects the spec no longer asks for: the HTTPRoute (gateway disabled),
/// the BackendTLSPolicy and its CA ConfigMap (gateway or backendTLS disabled), the Ingress.
/// The CA ConfigMap stays while the policy is wanted, even when this pass could not rebuild it.
async fn prune_unwanted(
    ctx: &Context,
    cluster: &ValidatedCluster,
    resources: &ClusterResources,
    gateway_api: bool,
) -> Result<usize, ApplyError> {
    let names = cluster.names();
    let client = &ctx.client;
    let ns = cluster.namespace();
    let mut writes = 0;
    // What earlier operator versions made per cluster for the pods' reads: a Role and its binding,
    // both named `<cluster>-discovery`. The pods' fixed ClusterRole grants those reads now.
    writes += prune::<Role>(
        cluster,
        &Api::namespaced(client.clone(), ns),
        Some(&ctx.stores.roles),
        &names.role(),
    )
    .await?;
    writes += prune::<RoleBinding>(
        cluster,
        &Api::namespaced(client.clone(), ns),
        Some(&ctx.stores.role_bindings),
        &names.role(),
    )
    .await?;
    if resources.http_route.is_none() && gateway_api {
        writes += prune::<HTTPRoute>(
            cluster,
            &Api::namespaced(client.clone(), ns),
            ctx.stores.http_routes.as_ref(),
            &names.http_route(),
        )
        .await?;
    }
    if resources.backend_tls_policy.is_none() {
        if ctx.backend_tls_api {
            writes += prune::<BackendTLSPolicy>(
                cluster,
                &Api::namespaced(client.clone(), ns),
                ctx.stores.backend_tls_policies.as_ref(),
                &names.backend_tls_policy(),
            )
            .await?;
        }
        writes += prune::<ConfigMap>(
            cluster,
            &Api::namespaced(client.clone(), ns),
            Some(&ctx.stores.config_maps),
            &names.ca_config_map(),
        )
        .await?;
    }
    if resources.ingress.is_none() {
        writes += prune::<Ingress>(
            cluster,
            &Api::namespaced(client.clone(), ns),
            Some(&ctx.stores.ingresses),
            &names.ingress(),
        )
        .await?;
    }
    Ok(writes)
}

/// Delete the object `name` if the cache holds it as this cluster's (its controller owner is
/// this cluster, and it carries the operator's label). Reads the cache first, so a cluster that
/// never had the object causes no write, and an object someone else owns is never deleted.
async fn prune<K>(
    cluster: &ValidatedCluster,
    api: &Api<K>,
    store: Option<&Store<K>>,
    name: &str,
) -> Result<usize, ApplyError>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let ns = cluster.namespace();
    let ours = store
        .and_then(|store| store.get(&ObjectRef::<K>::new(name).within(ns)))
        .is_some_and(|object| {
            let managed = object
                .labels()
                .get(names::LABEL_MANAGED_BY)
                .map(String::as_str)
                == Some(names::MANAGER);
            let controlled = object
                .owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.name == cluster.names().cluster());
            managed && controlled
        });
    if !ours {
        return Ok(0);
    }
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(1),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(0),
        Err(source) => Err(ApplyError::Write {
            kind: K::kind(&()).to_string(),
            name: format!("{ns}/{name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_live_object_with_extra_server_fields_is_a_match() {
        let desired = json!({"spec": {"ports": [{"port": 8200}]}, "metadata": {"name": "a"}});
        let live = json!({"spec": {"ports": [{"port": 8200, "protocol": "TCP"}], "clusterIP": "10.0.0.1"},
                          "metadata": {"name": "a", "uid": "x"}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn a_changed_value_or_a_list_of_another_length_is_drift() {
        let desired = json!({"spec": {"ingress": [{"ports": [{"port": 8200}]}]}});
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"ingress": [{"ports": [{"port": 8201}]}]}})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"ingress": [{"ports": [{"port": 8200}]}, {"ports": []}]}})
        ));
        assert!(!is_subset(&desired, &json!({"spec": {}})));
    }

    #[test]
    fn an_exact_kind_treats_a_field_added_by_someone_else_as_drift() {
        let desired = json!({"spec": {"podSelector": {"matchLabels": {"a": "1"}},
                                      "ingress": [{"ports": [{"port": 8200, "protocol": "TCP"}]}]}});
        let extra_label = json!({"spec": {"podSelector": {"matchLabels": {"a": "1", "b": "2"}},
                                          "ingress": [{"ports": [{"port": 8200, "protocol": "TCP"}]}]}});
        let end_port = json!({"spec": {"podSelector": {"matchLabels": {"a": "1"}},
                                       "ingress": [{"ports": [{"port": 8200, "endPort": 9000, "protocol": "TCP"}]}]}});
        for live in [&extra_label, &end_port] {
            assert!(
                matches(&desired, live, Exactness::Subset),
                "a subset check misses it"
            );
            assert!(!matches(&desired, live, POLICY_FIELDS), "{live}");
        }
        assert!(matches(&desired, &desired.clone(), POLICY_FIELDS));
    }

    #[test]
    fn an_exact_kind_ignores_metadata_the_api_server_adds() {
        let desired = json!({"metadata": {"name": "p"}, "roleRef": {"name": "r"}, "subjects": [{"name": "s"}]});
        let live = json!({"metadata": {"name": "p", "uid": "u", "resourceVersion": "7"},
                          "roleRef": {"name": "r"}, "subjects": [{"name": "s"}]});
        assert!(matches(&desired, &live, BINDING_FIELDS));
    }

    #[test]
    fn an_object_controlled_by_another_cluster_is_foreign() {
        use k8s_openapi::{
            api::networking::v1::NetworkPolicy,
            apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
        };
        let owned_by = |uid: &str, controller: bool| NetworkPolicy {
            metadata: ObjectMeta {
                owner_references: Some(vec![OwnerReference {
                    api_version: "openbao.org/v1alpha1".to_string(),
                    kind: "OpenBaoCluster".to_string(),
                    name: format!("cluster-{uid}"),
                    uid: uid.to_string(),
                    controller: Some(controller),
                    block_owner_deletion: None,
                }]),
                ..ObjectMeta::default()
            },
            ..NetworkPolicy::default()
        };
        assert_eq!(
            foreign_controller(&owned_by("a", true), &owned_by("b", true)).as_deref(),
            Some("OpenBaoCluster/cluster-b")
        );
        assert_eq!(
            foreign_controller(&owned_by("a", true), &owned_by("a", true)),
            None
        );
        // No controller on the live object (created by hand, or orphaned): it is adopted, as
        // before.
        assert_eq!(
            foreign_controller(&owned_by("a", true), &owned_by("b", false)),
            None
        );
    }

    #[test]
    fn empty_desired_lists_match_fields_the_api_server_dropped() {
        let desired = json!({"spec": {"ingress": [], "podSelector": {}}});
        assert!(is_subset(&desired, &json!({"spec": {}})));
    }

    #[test]
    fn quantities_are_compared_by_value_not_spelling() {
        let desired = json!({"resources": {"requests": {"cpu": "1000m", "memory": "1024Mi"},
            "limits": {"cpu": "0.5"}}, "emptyDir": {"sizeLimit": "65536Ki"}});
        let live = json!({"resources": {"requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "500m"}}, "emptyDir": {"sizeLimit": "64Mi"}});
        assert!(is_subset(&desired, &live));
        let more = json!({"resources": {"requests": {"cpu": "2", "memory": "1Gi"},
            "limits": {"cpu": "500m"}}, "emptyDir": {"sizeLimit": "64Mi"}});
        assert!(!is_subset(&desired, &more), "a different amount is drift");
        assert!(same_quantity("1k", "1000") && same_quantity("1e3", "1k"));
        assert!(same_quantity("1.5Gi", "1536Mi") && same_quantity("100u", "0.1m"));
        assert!(
            !same_quantity("1Ki", "1k"),
            "binary and decimal kilo differ"
        );
        assert!(!same_quantity("abc", "abc1") && quantity("1.2.3").is_none());
        // Only quantities are compared by value: other strings must match exactly.
        assert!(!is_subset(&json!({"env": "1000"}), &json!({"env": "1k"})));
    }
}

//! Condition types and reasons, defined once so the reconciler, status and tests agree.

/// Condition types set on `OpenBaoCluster.status.conditions`.
pub mod types {
    /// The spec passed validation.
    pub const VALID: &str = "Valid";
    /// Every member is unsealed, joined, and one is active.
    pub const READY: &str = "Ready";
    /// The operator is changing something (creating objects, rolling pods, initializing).
    pub const PROGRESSING: &str = "Progressing";
    /// Something needs attention but the cluster may still serve.
    pub const DEGRADED: &str = "Degraded";
    /// OpenBao has been initialized and its keys are stored.
    pub const INITIALIZED: &str = "Initialized";
    /// The cluster runs the Development profile (upstream's condition): True with the settings
    /// that a Hardened cluster would refuse.
    pub const SECURITY_RISK: &str = "SecurityRisk";
    /// Present while `spec.ingress.enabled` (upstream's condition): whether the managed Ingress
    /// is ready per `spec.ingress.readinessMode`.
    pub const INGRESS_INTEGRATION_READY: &str = "IngressIntegrationReady";
    /// The live NetworkPolicies of the cluster's namespace (the operator's and everyone
    /// else's), with the live labels of the members, allow exactly the posture contract: True
    /// when proven, False naming the policies that widen it.
    pub const POSTURE_VERIFIED: &str = "PostureVerified";
    /// Set on OpenBaoRestore and OpenBaoTenant objects while their machinery is not built: the
    /// object is accepted and validated, and nothing else happens yet.
    pub const NOT_IMPLEMENTED: &str = "NotImplemented";
}

/// Machine-readable reasons for conditions and Events.
pub mod reasons {
    /// Validation succeeded.
    pub const SPEC_VALID: &str = "SpecValid";
    /// Validation failed; the message lists every field error.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The Gateway API CRDs are not installed.
    pub const GATEWAY_API_MISSING: &str = "GatewayAPIMissing";
    /// The Gateway API serves no `v1` BackendTLSPolicy although the gateway needs one.
    pub const BACKEND_TLS_POLICY_API_MISSING: &str = "BackendTLSPolicyAPIMissing";
    /// IngressIntegrationReady: the Ingress exists (readinessMode Created).
    pub const INGRESS_CREATED: &str = "IngressCreated";
    /// IngressIntegrationReady: the Ingress controller published a load balancer address.
    pub const LOAD_BALANCER_PUBLISHED: &str = "LoadBalancerPublished";
    /// IngressIntegrationReady: no load balancer address is published yet.
    pub const LOAD_BALANCER_PENDING: &str = "LoadBalancerPending";
    /// IngressIntegrationReady: the Ingress does not exist (yet).
    pub const INGRESS_MISSING: &str = "IngressMissing";
    /// The API server address for the egress rule is unknown.
    pub const API_SERVER_ADDRESS_UNKNOWN: &str = "APIServerAddressUnknown";
    /// The External TLS Secret is missing or incomplete.
    pub const TLS_SECRET_INVALID: &str = "TLSSecretInvalid";
    /// ACME mode: the private ACME CA's root (or, for a public CA, the system roots the
    /// operator verifies members with) is missing.
    pub const ACME_TRUST_UNAVAILABLE: &str = "ACMETrustUnavailable";
    /// Initialization ran but its keys could not be stored and are lost.
    pub const INITIALIZATION_KEYS_LOST: &str = "InitializationKeysLost";
    /// The static unseal key Secret is missing while the cluster holds data.
    pub const UNSEAL_KEY_MISSING: &str = "UnsealKeyMissing";
    /// The static unseal key Secret exists but does not hold a 32-byte key.
    pub const UNSEAL_KEY_INVALID: &str = "UnsealKeyInvalid";
    /// Objects are being created or updated.
    pub const RECONCILING: &str = "Reconciling";
    /// Event: the server pods are being replaced with a new revision (version or template).
    pub const ROLLOUT_STARTED: &str = "RolloutStarted";
    /// Event and Degraded: a replaced member did not come back in time; the rollout paused.
    pub const ROLLOUT_PAUSED: &str = "RolloutPaused";
    /// Event: every member runs the new revision.
    pub const ROLLOUT_COMPLETED: &str = "RolloutCompleted";
    /// Pods are starting or not all are ready.
    pub const PODS_NOT_READY: &str = "PodsNotReady";
    /// Every member is ready.
    pub const ALL_MEMBERS_READY: &str = "AllMembersReady";
    /// Nothing needs attention.
    pub const AS_EXPECTED: &str = "AsExpected";
    /// An error occurred while reconciling; the message says which.
    pub const RECONCILE_ERROR: &str = "ReconcileError";
    /// Objects the cluster needs are controlled by another owner (another cluster whose derived
    /// names collide); they are left untouched and the StatefulSet is held back.
    pub const NAME_CONFLICT: &str = "NameConflict";
    /// OpenBao was initialized by the operator and its keys are stored.
    pub const INITIALIZED: &str = "Initialized";
    /// OpenBao was initialized outside the operator; no keys are held.
    pub const INITIALIZED_EXTERNALLY: &str = "InitializedExternally";
    /// Waiting for members before initializing.
    pub const WAITING_FOR_MEMBERS: &str = "WaitingForMembers";
    /// Every member lost its data although the cluster was initialized.
    pub const MEMBERS_LOST_DATA: &str = "MembersLostData";
    /// The root-token Secret holds keys of a previous cluster.
    pub const STALE_ROOT_TOKEN_SECRET: &str = "StaleRootTokenSecret";
    /// Event: the operator created or renewed generated Secrets.
    pub const SECRETS_WRITTEN: &str = "SecretsWritten";
    /// Event: a departed member's Raft peer was removed after a scale-down.
    pub const RAFT_PEER_REMOVED: &str = "RaftPeerRemoved";
    /// Event: the cluster was deleted and cleaned up per its deletion policy.
    pub const DELETED: &str = "Deleted";
    /// spec.paused is true.
    pub const PAUSED: &str = "Paused";
    /// SecurityRisk: the Development profile (or no profile) is in use.
    pub const DEVELOPMENT_PROFILE: &str = "DevelopmentProfile";
    /// SecurityRisk: the Hardened profile is in use.
    pub const HARDENED_PROFILE: &str = "HardenedProfile";
    /// Event: the operator rewrote the cluster's NetworkPolicies; the message lists the flows
    /// the change opens and closes.
    pub const NETWORK_POLICY_UPDATED: &str = "NetworkPolicyUpdated";
    /// PostureVerified True: every flow of the live policies matches the contract.
    pub const POSTURE_HOLDS: &str = "PostureHolds";
    /// PostureVerified False (and an Event; Degraded with `postureViolations: Block`): a live
    /// policy opens a flow the contract forbids, or a member escapes the operator's policy.
    pub const POSTURE_WIDENED: &str = "PostureWidened";
    /// PostureVerified False: another policy closes a flow the contract keeps open (such as
    /// the backup Jobs' egress under a namespace-wide default-deny), and opens nothing.
    pub const POSTURE_NARROWED: &str = "PostureNarrowed";
    /// PostureVerified False: the live policies could not be evaluated (an invalid policy).
    pub const POSTURE_UNVERIFIABLE: &str = "PostureUnverifiable";
    /// Degraded: `spec.storage.size` grew but Kubernetes refused to expand the claims.
    pub const VOLUME_EXPANSION_REFUSED: &str = "VolumeExpansionRefused";
    /// Degraded: `spec.storage.size` is smaller than the members' volumes (no webhook stopped it).
    pub const VOLUME_SHRINK_REFUSED: &str = "VolumeShrinkRefused";
    /// Event: the autopilot configuration was written to OpenBao.
    pub const AUTOPILOT_CONFIGURED: &str = "AutopilotConfigured";
    /// Event: claims were expanded and the StatefulSet re-created with the new size.
    pub const VOLUMES_EXPANDED: &str = "VolumesExpanded";
    /// Initialized: OpenBao initialized itself from `spec.selfInit`; no root token exists.
    pub const SELF_INITIALIZED: &str = "SelfInitialized";
    /// Initialized False: a self-initialization request failed and OpenBao refuses to unseal.
    pub const SELF_INITIALIZATION_FAILED: &str = "SelfInitializationFailed";
    /// Pending: the operator's identity in OpenBao (its ServiceAccount token, the API server's
    /// signing keys) cannot be determined, so a self-initializing cluster is held back.
    pub const OPERATOR_IDENTITY_UNAVAILABLE: &str = "OperatorIdentityUnavailable";
    /// Pending: a Secret key that `spec.selfInit.requests[].dataFrom` names does not exist yet.
    pub const SELF_INIT_SECRET_MISSING: &str = "SelfInitSecretMissing";
    /// Event: the pre-upgrade snapshot landed; the rollout starts replacing pods.
    pub const PRE_UPGRADE_SNAPSHOT_TAKEN: &str = "PreUpgradeSnapshotTaken";
    /// Event: the stored root token was revoked in OpenBao and removed from its Secret
    /// (`spec.initialization.revokeRootToken`).
    pub const ROOT_TOKEN_REVOKED: &str = "RootTokenRevoked";
    /// Event (Warning): revoking the stored root token failed; the next pass tries again.
    pub const ROOT_TOKEN_REVOCATION_FAILED: &str = "RootTokenRevocationFailed";
    /// Event: the operator's auth method, policy and role were written with the root token.
    pub const OPERATOR_IDENTITY_CONFIGURED: &str = "OperatorIdentityConfigured";
    /// NotImplemented on an OpenBaoRestore: restores are not built yet.
    pub const RESTORE_NOT_IMPLEMENTED: &str = "RestoreNotImplemented";
    /// NotImplemented on an OpenBaoTenant: tenant provisioning is not built yet.
    pub const TENANT_NOT_IMPLEMENTED: &str = "TenantNotImplemented";
}

/// The message of NotImplemented on an OpenBaoRestore.
pub const RESTORE_NOT_IMPLEMENTED_MESSAGE: &str = "restores are not implemented yet: the \
    OpenBaoRestore is accepted and validated, but no snapshot is restored";

/// The message of NotImplemented on an OpenBaoTenant.
pub const TENANT_NOT_IMPLEMENTED_MESSAGE: &str = "tenant provisioning is not implemented yet: \
    the OpenBaoTenant is accepted and validated, but the target namespace is not provisioned";

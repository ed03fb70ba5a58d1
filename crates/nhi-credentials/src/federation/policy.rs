//! [`TrustPolicy`]: which external tokens prove which of our identities.

use std::collections::BTreeMap;

use nhi_core::{Environment, IdentityId, TenantId};
use serde_json::Value;

use crate::error::{CredentialError, clip};
use crate::federation::issuer::ExternalClaims;

/// The issuer of GitHub Actions OIDC tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Binds external tokens to one identity: the issuer must match and every required
/// claim must be present with exactly the required JSON value (no prefixes, no
/// patterns, no case folding).
///
/// A policy must require `sub`. Pin an immutable id too where the platform has one
/// (GitHub's `repository_id`): names can be deleted and re-registered by someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    /// A name for audit trails.
    pub name: String,
    /// The exact `iss`.
    pub issuer: String,
    /// Claims that must be present with exactly these values.
    pub required_claims: BTreeMap<String, Value>,
    /// The identity a matching token proves.
    pub identity: IdentityId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its environment.
    pub environment: Environment,
    /// The most scopes an exchanged token may carry.
    pub scopes: Vec<String>,
}

impl TrustPolicy {
    /// A policy for tokens of `issuer` proving `identity`; add claims to require.
    pub fn new(
        name: impl Into<String>,
        issuer: impl Into<String>,
        identity: IdentityId,
        tenant: TenantId,
        environment: Environment,
    ) -> Self {
        Self {
            name: name.into(),
            issuer: issuer.into(),
            required_claims: BTreeMap::new(),
            identity,
            tenant,
            environment,
            scopes: Vec::new(),
        }
    }

    /// A GitHub Actions workflow of `repository` (`ORG/REPO`) running on `git_ref`
    /// (`refs/heads/main`), pinned to the repository's numeric id.
    pub fn github_actions(
        repository: &str,
        git_ref: &str,
        repository_id: &str,
        identity: IdentityId,
        tenant: TenantId,
        environment: Environment,
    ) -> Self {
        Self::new(
            format!("github:{repository}:{git_ref}"),
            GITHUB_ACTIONS_ISSUER,
            identity,
            tenant,
            environment,
        )
        .require_claim("sub", format!("repo:{repository}:ref:{git_ref}"))
        .require_claim("repository", repository)
        .require_claim("repository_id", repository_id)
    }

    /// A Kubernetes service account `namespace/name` of the cluster whose service
    /// account issuer is `issuer`. Cap the token lifetime on the [`super::ExternalIssuer`].
    pub fn kubernetes_service_account(
        issuer: &str,
        namespace: &str,
        service_account: &str,
        identity: IdentityId,
        tenant: TenantId,
        environment: Environment,
    ) -> Self {
        Self::new(
            format!("k8s:{namespace}:{service_account}"),
            issuer,
            identity,
            tenant,
            environment,
        )
        .require_claim(
            "sub",
            format!("system:serviceaccount:{namespace}:{service_account}"),
        )
    }

    /// The same policy also requiring claim `name` to equal `value` exactly.
    pub fn require_claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.required_claims.insert(name.into(), value.into());
        self
    }

    /// The same policy allowing at most `scopes`.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Checks the policy can be used.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when `sub` is not required as a non-empty
    /// string.
    pub fn validate(&self) -> Result<(), CredentialError> {
        let sub = self.required_claims.get("sub").and_then(Value::as_str);
        if sub.is_none_or(str::is_empty) {
            return Err(CredentialError::InvalidConfig {
                reason: format!(
                    "trust policy `{}` must require `sub` exactly, or it would trust every \
                     workload of its issuer",
                    clip(&self.name)
                ),
            });
        }
        Ok(())
    }

    /// Whether `claims` satisfy this policy; the error says which binding failed.
    pub fn check(&self, claims: &ExternalClaims) -> Result<(), String> {
        if claims.issuer != self.issuer {
            return Err(format!("issuer is not `{}`", clip(&self.issuer)));
        }
        for (name, wanted) in &self.required_claims {
            if claims.claim(name) != Some(wanted) {
                return Err(format!("claim `{}` does not match", clip(name)));
            }
        }
        Ok(())
    }
}

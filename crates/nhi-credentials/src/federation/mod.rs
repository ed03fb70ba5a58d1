//! Workload identity federation: trust an external OIDC issuer, bind its tokens to our
//! identities with [`TrustPolicy`]s, and exchange them for our short-lived tokens with
//! RFC 8693 token exchange semantics.

mod issuer;
mod policy;

pub use issuer::{ExternalClaims, ExternalIssuer, ExternalVerifier, JwksSource};
pub use policy::{GITHUB_ACTIONS_ISSUER, TrustPolicy};

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use nhi_core::{CredentialId, CredentialKind};
use ring::digest;

use crate::error::{CredentialError, clip};
use crate::jwt::JwtProvider;
use crate::jwt::claims::Actor;
use crate::jwt::token;
use crate::provider::{CredentialProvider, IssueRequest, IssuedCredential, Principal};
use crate::random::hex;
use crate::secret::CredentialSecret;

/// RFC 8693 token type of a JWT.
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// RFC 8693 token type of an OpenID Connect ID token.
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
/// RFC 8693 token type of an OAuth access token (what an exchange issues).
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A token exchange request (RFC 8693 section 2.1), without the transport.
#[derive(Debug, Clone)]
pub struct TokenExchangeRequest {
    /// `subject_token`: the external token proving the workload.
    pub subject_token: CredentialSecret,
    /// `subject_token_type`: [`TOKEN_TYPE_JWT`] or [`TOKEN_TYPE_ID_TOKEN`].
    pub subject_token_type: String,
    /// `requested_token_type`: `None`, [`TOKEN_TYPE_ACCESS_TOKEN`] or [`TOKEN_TYPE_JWT`].
    pub requested_token_type: Option<String>,
    /// `actor_token`: one of our tokens, held by the party acting for the subject (an
    /// agent); the issued token names it in `act`.
    pub actor_token: Option<CredentialSecret>,
    /// `actor_token_type`: [`TOKEN_TYPE_JWT`] or [`TOKEN_TYPE_ACCESS_TOKEN`] when an
    /// actor token is given.
    pub actor_token_type: Option<String>,
    /// `scope`, space-separated; `None` asks for every scope the policy allows.
    pub scope: Option<String>,
    /// `audience`; `None` takes our token provider's default.
    pub audience: Option<String>,
    /// A shorter lifetime than our provider's default, if wanted.
    pub lifetime: Option<Duration>,
}

impl TokenExchangeRequest {
    /// A request exchanging the JWT `subject_token` for an access token.
    pub fn new(subject_token: CredentialSecret) -> Self {
        Self {
            subject_token,
            subject_token_type: TOKEN_TYPE_JWT.to_owned(),
            requested_token_type: None,
            actor_token: None,
            actor_token_type: None,
            scope: None,
            audience: None,
            lifetime: None,
        }
    }
}

/// A successful token exchange response (RFC 8693 section 2.2.1).
#[derive(Debug, Clone)]
pub struct TokenExchangeResponse {
    /// The access token, one of our JWTs.
    pub access_token: IssuedCredential,
    /// Always [`TOKEN_TYPE_ACCESS_TOKEN`].
    pub issued_token_type: &'static str,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The name of the trust policy that matched, for the audit trail.
    pub policy: String,
}

/// Exchanges external workload tokens for our short-lived tokens.
///
/// It also implements [`CredentialProvider`] (kind `federated`) so a host can accept
/// external tokens directly: `verify` returns the principal the matching policy names;
/// `issue` is refused, since the external issuer mints those tokens.
pub struct TokenExchange {
    issuers: HashMap<String, ExternalVerifier>,
    policies: Vec<TrustPolicy>,
    tokens: Arc<JwtProvider>,
}

impl TokenExchange {
    /// An exchange issuing with `tokens`, trusting nobody yet.
    pub fn new(tokens: Arc<JwtProvider>) -> Self {
        Self {
            issuers: HashMap::new(),
            policies: Vec::new(),
            tokens,
        }
    }

    /// Trusts the issuer `verifier` checks.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when that issuer is already trusted.
    pub fn trust_issuer(&mut self, verifier: ExternalVerifier) -> Result<(), CredentialError> {
        let issuer = verifier.config().issuer.clone();
        if self.issuers.contains_key(&issuer) {
            return Err(CredentialError::InvalidConfig {
                reason: format!("issuer `{}` is already trusted", clip(&issuer)),
            });
        }
        self.issuers.insert(issuer, verifier);
        Ok(())
    }

    /// Adds a trust policy.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when the policy does not validate or names an
    /// issuer not trusted.
    pub fn add_policy(&mut self, policy: TrustPolicy) -> Result<(), CredentialError> {
        policy.validate()?;
        if !self.issuers.contains_key(&policy.issuer) {
            return Err(CredentialError::InvalidConfig {
                reason: format!(
                    "trust policy `{}` names issuer `{}`, which is not trusted: add it first",
                    clip(&policy.name),
                    clip(&policy.issuer)
                ),
            });
        }
        self.policies.push(policy);
        Ok(())
    }

    /// Verifies an external token and finds the one policy it satisfies.
    ///
    /// # Errors
    ///
    /// [`CredentialError::WrongIssuer`] for an issuer not trusted, any refusal of the
    /// token, [`CredentialError::NotTrusted`] when no policy or more than one matches.
    pub async fn authenticate(
        &self,
        subject_token: &CredentialSecret,
    ) -> Result<(ExternalClaims, &TrustPolicy), CredentialError> {
        // The unverified `iss` only picks the verifier; the verifier checks it again.
        let issuer = claimed_issuer(subject_token)?;
        let verifier = self
            .issuers
            .get(&issuer)
            .ok_or_else(|| CredentialError::WrongIssuer {
                issuer: clip(&issuer),
            })?;
        let claims = verifier.verify(subject_token).await?;

        let mut matching = self.policies.iter().filter(|p| p.check(&claims).is_ok());
        match (matching.next(), matching.next()) {
            (Some(policy), None) => Ok((claims, policy)),
            (Some(_), Some(_)) => Err(CredentialError::NotTrusted {
                reason: "more than one trust policy matches; make them exclusive".to_owned(),
            }),
            (None, _) => Err(CredentialError::NotTrusted {
                reason: self.closest_miss(&claims),
            }),
        }
    }

    /// Exchanges an external token for one of ours.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidRequest`] for unsupported token types; the refusals of
    /// [`TokenExchange::authenticate`]; a refusal of the actor token;
    /// [`CredentialError::InvalidScope`] when no requested scope is allowed.
    pub async fn exchange(
        &self,
        request: &TokenExchangeRequest,
    ) -> Result<TokenExchangeResponse, CredentialError> {
        check_token_types(request)?;
        let (_, policy) = self.authenticate(&request.subject_token).await?;

        // The actor proves itself with one of our own tokens.
        let actor = match &request.actor_token {
            None => None,
            Some(token) => {
                let acting = self.tokens.verify(token).await?;
                Some(Actor {
                    sub: acting.identity.to_string(),
                    act: acting.actor.map(|sub| Box::new(Actor { sub, act: None })),
                })
            }
        };

        let scopes = crate::oauth::narrow(request.scope.as_deref(), &policy.scopes)?;
        let issue = IssueRequest {
            identity: policy.identity.clone(),
            tenant: policy.tenant.clone(),
            environment: policy.environment.clone(),
            scopes,
            lifetime: request.lifetime,
            audience: request.audience.clone(),
        };
        let issued = self.tokens.issue_acting(&issue, actor).await?;
        Ok(TokenExchangeResponse {
            issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
            token_type: "Bearer",
            expires_in: issued.expires_at.duration_since(issued.issued_at).as_secs(),
            scope: issue.scopes.join(" "),
            policy: policy.name.clone(),
            access_token: issued,
        })
    }

    /// Why the nearest policy of the token's issuer did not match.
    fn closest_miss(&self, claims: &ExternalClaims) -> String {
        self.policies
            .iter()
            .filter(|policy| policy.issuer == claims.issuer)
            .find_map(|policy| policy.check(claims).err())
            .unwrap_or_else(|| "no trust policy names this issuer".to_owned())
    }
}

#[async_trait::async_trait]
impl CredentialProvider for TokenExchange {
    fn kind(&self) -> CredentialKind {
        CredentialKind::Federated
    }

    async fn issue(&self, _request: &IssueRequest) -> Result<IssuedCredential, CredentialError> {
        Err(CredentialError::InvalidRequest {
            reason: "federated credentials are minted by their external issuer; exchange them \
                     instead"
                .to_owned(),
        })
    }

    async fn verify(&self, presented: &CredentialSecret) -> Result<Principal, CredentialError> {
        let (claims, policy) = self.authenticate(presented).await?;
        Ok(Principal {
            identity: policy.identity.clone(),
            credential_id: external_id(&claims, presented)?,
            kind: CredentialKind::Federated,
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
            scopes: policy.scopes.clone(),
            tenant: Some(policy.tenant.clone()),
            environment: Some(policy.environment.clone()),
            actor: None,
        })
    }
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("issuers", &self.issuers.keys().collect::<Vec<_>>())
            .field("policies", &self.policies.len())
            .finish_non_exhaustive()
    }
}

fn check_token_types(request: &TokenExchangeRequest) -> Result<(), CredentialError> {
    let fail = |what: &str, value: &str| {
        Err(CredentialError::InvalidRequest {
            reason: format!("{what} `{}` is not supported", clip(value)),
        })
    };
    let subject = request.subject_token_type.as_str();
    if subject != TOKEN_TYPE_JWT && subject != TOKEN_TYPE_ID_TOKEN {
        return fail("subject_token_type", subject);
    }
    if let Some(requested) = request.requested_token_type.as_deref()
        && requested != TOKEN_TYPE_ACCESS_TOKEN
        && requested != TOKEN_TYPE_JWT
    {
        return fail("requested_token_type", requested);
    }
    match (&request.actor_token, request.actor_token_type.as_deref()) {
        (None, None) => Ok(()),
        (Some(_), Some(TOKEN_TYPE_JWT | TOKEN_TYPE_ACCESS_TOKEN)) => Ok(()),
        (Some(_), Some(other)) => fail("actor_token_type", other),
        _ => Err(CredentialError::InvalidRequest {
            reason: "actor_token and actor_token_type go together".to_owned(),
        }),
    }
}

/// The `iss` a token claims, read without trusting it.
fn claimed_issuer(token: &CredentialSecret) -> Result<String, CredentialError> {
    let compact = token::split(token.expose_secret())?;
    match token::payload_json(&compact)?.get("iss") {
        Some(serde_json::Value::String(issuer)) => Ok(issuer.clone()),
        _ => Err(CredentialError::malformed(
            "`iss` is missing or not a string",
        )),
    }
}

/// The external token's `jti` when it makes a valid id, else a digest of the token.
fn external_id(
    claims: &ExternalClaims,
    token: &CredentialSecret,
) -> Result<CredentialId, CredentialError> {
    if let Some(id) = claims
        .jwt_id
        .as_deref()
        .and_then(|jti| CredentialId::new(jti).ok())
    {
        return Ok(id);
    }
    let digest = digest::digest(&digest::SHA256, token.expose_secret().as_bytes());
    let short = digest.as_ref().get(..16).unwrap_or_default();
    CredentialId::new(format!("ext-{}", hex(short))).map_err(|_| CredentialError::Crypto {
        reason: "a digest was not a valid id",
    })
}

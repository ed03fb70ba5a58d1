//! The token header and claims as written on the wire, and the checks they must pass.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nhi_core::{CredentialId, CredentialKind, Environment, IdentityId, TenantId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{CredentialError, clip};
use crate::jwt::config::JwtConfig;
use crate::provider::Principal;

/// The longest token accepted; anything longer is refused before it is parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The claims of a token this crate issues.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: Audience,
    pub(crate) exp: u64,
    pub(crate) nbf: u64,
    pub(crate) iat: u64,
    pub(crate) jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) env: Option<String>,
}

/// `aud` is either one string or a list of strings (RFC 7519 section 4.1.3).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|one| one == audience),
        }
    }
}

/// The header fields this crate looks at; any duplicate key fails to parse.
#[derive(Debug, Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
    b64: Option<serde_json::Value>,
}

/// Checks the token's shape and header before any signature work; returns the key id.
///
/// The algorithm is fixed by the key type (EdDSA); the header must agree, and no
/// extension (`crit`, `b64`) is accepted.
pub(crate) fn precheck(token: &str) -> Result<String, CredentialError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(CredentialError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_BYTES,
        });
    }
    let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(CredentialError::malformed(
            "a token has three dot-separated parts",
        ));
    };
    if [header, payload, signature]
        .iter()
        .any(|part| part.is_empty() || !part.chars().all(base64url))
    {
        return Err(CredentialError::malformed(
            "a token part is not base64url text",
        ));
    }

    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| CredentialError::malformed("the header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&bytes)
        .map_err(|err| CredentialError::malformed(format!("header: {err}")))?;

    if header.alg != "EdDSA" {
        return Err(CredentialError::UnsupportedAlgorithm {
            alg: clip(&header.alg),
        });
    }
    if header.crit.is_some() || header.b64.is_some() {
        return Err(CredentialError::malformed(
            "critical header extensions are not supported",
        ));
    }
    if header
        .typ
        .as_deref()
        .is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT"))
    {
        return Err(CredentialError::malformed("the header type is not `JWT`"));
    }
    header
        .kid
        .ok_or_else(|| CredentialError::malformed("the header names no key id"))
}

impl Claims {
    /// Checks a signature-verified token's claims at `now` and says what it proves.
    ///
    /// Revocation is checked afterwards by the caller.
    pub(crate) fn into_principal(
        self,
        config: &JwtConfig,
        now: Timestamp,
    ) -> Result<Principal, CredentialError> {
        if self.iss != config.issuer {
            return Err(CredentialError::WrongIssuer {
                issuer: clip(&self.iss),
            });
        }
        if !self.aud.contains(&config.audience) {
            return Err(CredentialError::WrongAudience {
                expected: config.audience.clone(),
            });
        }
        let (issued_at, expires_at) = self.check_times(config, now)?;

        let identity = IdentityId::new(&self.sub)
            .map_err(|err| CredentialError::malformed(format!("sub: {err}")))?;
        let credential_id = CredentialId::new(&self.jti)
            .map_err(|err| CredentialError::malformed(format!("jti: {err}")))?;
        let tenant = self.tenant.map(TenantId::new).transpose();
        let tenant = tenant.map_err(|err| CredentialError::malformed(format!("tenant: {err}")))?;
        let environment = self.env.map(Environment::new).transpose();
        let environment =
            environment.map_err(|err| CredentialError::malformed(format!("env: {err}")))?;
        let scopes = self
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();

        Ok(Principal {
            identity,
            credential_id,
            kind: CredentialKind::Jwt,
            issued_at,
            expires_at,
            scopes,
            tenant,
            environment,
            actor: None,
        })
    }

    /// Checks `exp`, `nbf` and `iat` against `now` with the configured leeway, and the
    /// token's lifetime against the maximum; returns the issue and expiry times.
    fn check_times(
        &self,
        config: &JwtConfig,
        now: Timestamp,
    ) -> Result<(Timestamp, Timestamp), CredentialError> {
        let issued_at = Timestamp::from_unix_secs(self.iat);
        let expires_at = Timestamp::from_unix_secs(self.exp);
        let not_before = Timestamp::from_unix_secs(self.nbf);

        let lifetime = self.exp.checked_sub(self.iat).map(Duration::from_secs);
        match lifetime {
            None => {
                return Err(CredentialError::malformed(
                    "it expires before it was issued",
                ));
            }
            Some(lifetime) if lifetime > config.max_lifetime => {
                return Err(CredentialError::malformed(
                    "its lifetime is longer than the allowed maximum",
                ));
            }
            Some(_) => {}
        }

        if now >= expires_at.saturating_add(config.leeway) {
            return Err(CredentialError::Expired {
                expired_at: expires_at,
            });
        }
        let latest_start = now.saturating_add(config.leeway);
        if not_before > latest_start || issued_at > latest_start {
            return Err(CredentialError::NotYetValid {
                valid_from: not_before.max(issued_at),
            });
        }
        Ok((issued_at, expires_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(json))
    }

    #[test]
    fn precheck_reads_the_key_id() {
        let kid = precheck(&header(r#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(kid, "k1");
    }

    #[test]
    fn precheck_refuses_other_algorithms_and_extensions() {
        let refused = [
            r#"{"alg":"none","kid":"k1"}"#,
            r#"{"alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"eddsa","kid":"k1"}"#,
            r#"{"alg":"EdDSA","kid":"k1","crit":["exp"]}"#,
            r#"{"alg":"EdDSA","kid":"k1","b64":false}"#,
            r#"{"alg":"EdDSA","kid":"k1","typ":"JWE"}"#,
            r#"{"alg":"EdDSA"}"#,
            r#"{"alg":"EdDSA","alg":"EdDSA","kid":"k1"}"#,
            r#"{"alg":7,"kid":"k1"}"#,
        ];
        for json in refused {
            assert!(precheck(&header(json)).is_err(), "{json}");
        }
    }

    #[test]
    fn precheck_refuses_odd_shapes() {
        for token in [
            "", ".", "a.b", "a.b.c.d", "a..c", "a.b.c=", "a b.c.d", "é.b.c",
        ] {
            let err = precheck(token).unwrap_err();
            assert!(
                matches!(err, CredentialError::Malformed { .. }),
                "{token}: {err}"
            );
        }
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            precheck(&huge),
            Err(CredentialError::TooLarge { .. })
        ));
    }
}

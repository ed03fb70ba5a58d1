//! Reading external public keys from JSON Web Keys and key sets.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::Value;

use crate::algorithm::SignatureAlgorithm;
use crate::error::{CredentialError, clip};
use crate::jwt::strict_json;
use crate::keys::VerifyingKey;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The shortest HS256 shared secret accepted, in bytes.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// The largest JWKS document read, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// An external issuer's signing keys by key id, read from its JWKS.
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    keys: HashMap<String, VerifyingKey>,
    skipped: usize,
}

impl JwkSet {
    /// Reads a JWKS document (`{"keys": [...]}`).
    ///
    /// Keys this crate cannot use for signatures (encryption keys, symmetric keys,
    /// unknown types or curves, short RSA moduli) are skipped and counted; a key id
    /// that appears twice makes the whole set unusable, since either key could be meant.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when the document is not a JWKS, is larger
    /// than 256 KiB, or repeats a key id.
    pub fn parse(document: &[u8]) -> Result<Self, CredentialError> {
        if document.len() > MAX_JWKS_BYTES {
            return Err(invalid("the key set is larger than 256 KiB"));
        }
        let value = strict_json::parse(document)
            .map_err(|err| invalid(&format!("the key set is not JSON: {err}")))?;
        let Some(Value::Array(entries)) = value.get("keys") else {
            return Err(invalid("the key set has no `keys` list"));
        };

        let mut set = Self::default();
        for entry in entries {
            match verifying_key(entry) {
                Ok(key) => set.add(key)?,
                Err(_) => set.skipped += 1,
            }
        }
        Ok(set)
    }

    /// A set holding exactly `keys`.
    ///
    /// # Errors
    ///
    /// [`CredentialError::InvalidConfig`] when a key id repeats.
    pub fn from_keys(
        keys: impl IntoIterator<Item = VerifyingKey>,
    ) -> Result<Self, CredentialError> {
        let mut set = Self::default();
        for key in keys {
            set.add(key)?;
        }
        Ok(set)
    }

    /// The key named `kid`.
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys of the document were skipped as unusable.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    fn add(&mut self, key: VerifyingKey) -> Result<(), CredentialError> {
        if self.keys.contains_key(key.kid()) {
            return Err(invalid(&format!(
                "key id `{}` appears twice in the key set",
                clip(key.kid())
            )));
        }
        self.keys.insert(key.kid().to_owned(), key);
        Ok(())
    }
}

/// A [`VerifyingKey`] from one JWK; see [`VerifyingKey::from_jwk`].
pub(crate) fn verifying_key(jwk: &Value) -> Result<VerifyingKey, CredentialError> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kid = field("kid").ok_or_else(|| invalid("the key has no `kid`"))?;
    if kid.is_empty() || kid.len() > 128 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "the key id must be 1 to 128 visible ASCII characters",
        ));
    }
    if jwk.get("use").is_some() && field("use") != Some("sig") {
        return Err(invalid("the key is not for signatures"));
    }
    let declared = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(
            SignatureAlgorithm::from_name(name)
                .ok_or_else(|| invalid(&format!("algorithm `{}` is not supported", clip(name))))?,
        ),
        Some(_) => return Err(invalid("the key's `alg` is not a string")),
    };

    let (algorithm, decoding) = match (field("kty"), field("crv")) {
        (Some("OKP"), Some("Ed25519")) => {
            let x = component(jwk, "x", Some(32))?;
            (SignatureAlgorithm::EdDSA, DecodingKey::from_ed_der(&x))
        }
        (Some("EC"), Some(curve @ ("P-256" | "P-384"))) => {
            let (algorithm, len) = if curve == "P-256" {
                (SignatureAlgorithm::ES256, 32)
            } else {
                (SignatureAlgorithm::ES384, 48)
            };
            let mut point = vec![0x04];
            point.extend(component(jwk, "x", Some(len))?);
            point.extend(component(jwk, "y", Some(len))?);
            (algorithm, DecodingKey::from_ec_der(&point))
        }
        (Some("RSA"), _) => {
            let n = component(jwk, "n", None)?;
            let e = component(jwk, "e", None)?;
            let significant = n.iter().skip_while(|byte| **byte == 0).count();
            if significant * 8 < MIN_RSA_BITS {
                return Err(invalid("the RSA modulus is shorter than 2048 bits"));
            }
            let algorithm = match declared {
                None | Some(SignatureAlgorithm::RS256) => SignatureAlgorithm::RS256,
                Some(SignatureAlgorithm::PS256) => SignatureAlgorithm::PS256,
                Some(_) => return Err(invalid("an RSA key is for `RS256` or `PS256` only")),
            };
            (algorithm, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        (Some("oct"), _) => {
            return Err(invalid(
                "symmetric keys are never read from a key set; configure a shared secret",
            ));
        }
        _ => return Err(invalid("the key type or curve is not supported")),
    };
    if declared.is_some_and(|declared| declared != algorithm) {
        return Err(invalid("the key's `alg` does not match its type"));
    }
    Ok(VerifyingKey::new(
        kid.to_owned(),
        algorithm,
        decoding,
        Some(jwk.clone()),
    ))
}

/// A base64url component of a JWK, of exactly `len` bytes when given.
fn component(jwk: &Value, name: &str, len: Option<usize>) -> Result<Vec<u8>, CredentialError> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("the key has no `{name}`")))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid(&format!("the key's `{name}` is not base64url")))?;
    if bytes.is_empty() || len.is_some_and(|len| bytes.len() != len) {
        return Err(invalid(&format!("the key's `{name}` has the wrong length")));
    }
    Ok(bytes)
}

fn invalid(reason: &str) -> CredentialError {
    CredentialError::InvalidConfig {
        reason: format!("unusable JSON Web Key: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use serde_json::json;

    #[test]
    fn our_own_jwks_reads_back() {
        let ed = SigningKey::generate().unwrap();
        let ec = SigningKey::generate_for(SignatureAlgorithm::ES256).unwrap();
        let document =
            json!({ "keys": [ed.jwk(), ec.jwk(), {"kty": "oct", "k": "c2VjcmV0", "kid": "s"}] });
        let set = JwkSet::parse(document.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.skipped(), 1);
        assert_eq!(
            set.find(ec.kid()).unwrap().algorithm(),
            SignatureAlgorithm::ES256
        );
    }

    #[test]
    fn unusable_keys_are_refused() {
        let x = URL_SAFE_NO_PAD.encode([1_u8; 32]);
        let short_n = URL_SAFE_NO_PAD.encode([0xff_u8; 128]);
        let refused = [
            json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
            json!({"kty": "OKP", "crv": "Ed448", "x": x, "kid": "k"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "k"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k", "alg": "HS256"}),
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k", "use": "enc"}),
            json!({"kty": "RSA", "n": short_n, "e": "AQAB", "kid": "k"}),
            json!({"kty": "oct", "k": x, "kid": "k", "alg": "HS256"}),
            json!({"kty": "EC", "crv": "P-521", "x": x, "y": x, "kid": "k"}),
            json!({"kty": "EC", "crv": "P-256", "x": x, "kid": "k"}),
        ];
        for jwk in refused {
            assert!(verifying_key(&jwk).is_err(), "{jwk}");
        }
        let duplicate = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k"},
        ]});
        assert!(JwkSet::parse(duplicate.to_string().as_bytes()).is_err());
        assert!(JwkSet::parse(b"{\"keys\":{}}").is_err());
        assert!(JwkSet::parse(b"not json").is_err());
    }
}

//! The compact JWS form, taken apart strictly before any key or claim is trusted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::{CredentialError, clip};
use crate::jwt::strict_json;
use crate::keys::VerifyingKey;

/// The longest token accepted; anything longer is refused before it is parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A compact token split into its parts, its header read and checked.
#[derive(Debug)]
pub(crate) struct Compact<'a> {
    /// The header's `alg`, as written.
    pub(crate) alg: String,
    /// The header's `kid`, as written.
    pub(crate) kid: Option<String>,
    /// `header.payload`, the signed bytes.
    pub(crate) message: &'a str,
    /// The payload part, base64url.
    pub(crate) payload: &'a str,
    /// The signature part, base64url.
    pub(crate) signature: &'a str,
}

/// Splits `token` and reads its header; nothing here trusts the header yet.
///
/// Refused: tokens over [`MAX_TOKEN_BYTES`], anything but three non-empty base64url
/// parts, a header that is not a JSON object with a string `alg`, duplicate header
/// keys, `crit` or `b64` (no extension is understood), a `typ` other than `JWT`.
pub(crate) fn split(token: &str) -> Result<Compact<'_>, CredentialError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(CredentialError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CredentialError::malformed(
            "a token has three dot-separated parts",
        ));
    };
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(base64url(header) && base64url(payload) && base64url(signature)) {
        return Err(CredentialError::malformed(
            "a token part is not base64url text",
        ));
    }
    let message = token
        .get(..header.len() + 1 + payload.len())
        .ok_or_else(|| CredentialError::malformed("the token is cut short"))?;

    let (alg, kid) = read_header(header)?;
    Ok(Compact {
        alg,
        kid,
        message,
        payload,
        signature,
    })
}

/// Checks the signature with `key`, whose algorithm the header must name exactly.
pub(crate) fn check_signature(
    compact: &Compact<'_>,
    key: &VerifyingKey,
) -> Result<(), CredentialError> {
    let algorithm = key.algorithm();
    if compact.alg != algorithm.as_str() {
        return Err(CredentialError::UnsupportedAlgorithm {
            alg: clip(&compact.alg),
        });
    }
    let verified = jsonwebtoken::crypto::verify(
        compact.signature,
        compact.message.as_bytes(),
        key.decoding_key(),
        algorithm.jwt(),
    );
    match verified {
        Ok(true) => Ok(()),
        Ok(false) => Err(CredentialError::BadSignature),
        Err(err) => match err.kind() {
            jsonwebtoken::errors::ErrorKind::Base64(_) => {
                Err(CredentialError::malformed("the signature is not base64url"))
            }
            _ => Err(CredentialError::Token { source: err }),
        },
    }
}

/// The payload as a JSON object without duplicate keys.
pub(crate) fn payload_json(compact: &Compact<'_>) -> Result<Value, CredentialError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(compact.payload)
        .map_err(|_| CredentialError::malformed("the payload is not base64url"))?;
    let value = strict_json::parse(&bytes)
        .map_err(|err| CredentialError::malformed(format!("claims: {err}")))?;
    if !value.is_object() {
        return Err(CredentialError::malformed(
            "the claims are not a JSON object",
        ));
    }
    Ok(value)
}

fn read_header(part: &str) -> Result<(String, Option<String>), CredentialError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| CredentialError::malformed("the header is not base64url"))?;
    let value = strict_json::parse(&bytes)
        .map_err(|err| CredentialError::malformed(format!("header: {err}")))?;
    let Value::Object(header) = value else {
        return Err(CredentialError::malformed(
            "the header is not a JSON object",
        ));
    };

    if header.contains_key("crit") || header.contains_key("b64") {
        return Err(CredentialError::malformed(
            "critical header extensions are not supported",
        ));
    }
    match header.get("typ") {
        None => {}
        Some(Value::String(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(CredentialError::malformed("the header type is not `JWT`")),
    }
    let Some(Value::String(alg)) = header.get("alg") else {
        return Err(CredentialError::malformed("the header names no algorithm"));
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(CredentialError::malformed("the key id is not a string")),
    };
    Ok((alg.clone(), kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(json))
    }

    #[test]
    fn split_reads_the_header() {
        let token = header(r#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#);
        let compact = split(&token).unwrap();
        assert_eq!(compact.alg, "EdDSA");
        assert_eq!(compact.kid.as_deref(), Some("k1"));
        assert_eq!(compact.payload, "e30");
        assert_eq!(compact.signature, "c2ln");
        assert!(compact.message.ends_with(".e30"));
    }

    #[test]
    fn split_refuses_bad_headers() {
        let refused = [
            r#"{"alg":"EdDSA","kid":"k1","crit":["exp"]}"#,
            r#"{"alg":"EdDSA","kid":"k1","b64":false}"#,
            r#"{"alg":"EdDSA","kid":"k1","typ":"JWE"}"#,
            r#"{"alg":"EdDSA","kid":"k1","typ":7}"#,
            r#"{"alg":"EdDSA","alg":"EdDSA","kid":"k1"}"#,
            r#"{"alg":7,"kid":"k1"}"#,
            r#"{"kid":"k1"}"#,
            r#"{"alg":"EdDSA","kid":7}"#,
            r#"["alg","EdDSA"]"#,
            r#"null"#,
        ];
        for json in refused {
            let err = split(&header(json)).unwrap_err();
            assert!(matches!(err, CredentialError::Malformed { .. }), "{json}");
        }
    }

    #[test]
    fn split_refuses_odd_shapes() {
        for token in [
            "", ".", "a.b", "a.b.c.d", "a..c", "a.b.c=", "a b.c.d", "é.b.c",
        ] {
            let err = split(token).unwrap_err();
            assert!(
                matches!(err, CredentialError::Malformed { .. }),
                "{token}: {err}"
            );
        }
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            split(&huge),
            Err(CredentialError::TooLarge { .. })
        ));
    }
}

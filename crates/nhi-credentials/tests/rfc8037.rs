//! RFC 8037 Appendix A.4: the published Ed25519 JWS verifies with the published key
//! through this crate's ring-backed `jsonwebtoken` provider, and fails once altered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use nhi_credentials::{SignatureAlgorithm, VerifyingKey, ring_crypto_provider};
use serde_json::json;

/// The public key of RFC 8037 Appendix A.1 (`x`).
const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

/// The compact JWS of RFC 8037 Appendix A.4. Ed25519 is deterministic, so this is also
/// what signing the example input with the private key of Appendix A.1 gives.
const JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// The same JWS with one character of the signature miscopied (`MG` read as `MZ`), a
/// slip easily made when copying the example by hand.
const MISCOPIED: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MZCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn check(jws: &str, key: &DecodingKey) -> bool {
    let (message, signature) = jws.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let verifier = (ring_crypto_provider().verifier_factory)(&Algorithm::EdDSA, key).unwrap();
    verifier.verify(message.as_bytes(), &signature).is_ok()
}

#[test]
fn the_published_example_verifies_with_the_published_key() {
    let key = DecodingKey::from_ed_components(X).unwrap();
    assert!(check(JWS, &key));

    // The payload is the text of the RFC.
    let payload = URL_SAFE_NO_PAD
        .decode(JWS.split('.').nth(1).unwrap())
        .unwrap();
    assert_eq!(payload, b"Example of Ed25519 signing");
}

#[test]
fn any_alteration_fails() {
    let key = DecodingKey::from_ed_components(X).unwrap();
    assert!(!check(MISCOPIED, &key));

    let altered_payload = JWS.replace(
        ".RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.",
        ".RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmd.",
    );
    assert!(!check(&altered_payload, &key));

    let other = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode([0x11_u8; 32])).unwrap();
    assert!(!check(JWS, &other));

    // The same key in the wrong family never checks it.
    let as_hmac = (ring_crypto_provider().verifier_factory)(&Algorithm::HS256, &key);
    assert!(as_hmac.is_err());
}

#[test]
fn the_published_jwk_reads_as_an_eddsa_key() {
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "rfc8037"});
    let key = VerifyingKey::from_jwk(&jwk).unwrap();
    assert_eq!(key.algorithm(), SignatureAlgorithm::EdDSA);
    assert_eq!(key.kid(), "rfc8037");
}

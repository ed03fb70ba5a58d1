//! ES256 issuing beside EdDSA: a key ring of either algorithm, rotation across
//! algorithms, and the algorithm always taken from the key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::*;
use nhi_credentials::{
    CredentialError, CredentialProvider, JwtConfig, KeyRing, SignatureAlgorithm, SigningKey,
};

fn es256_fixture() -> Fixture {
    let keys = Arc::new(KeyRing::generate_for(SignatureAlgorithm::ES256).unwrap());
    fixture_with(
        keys,
        Forger::new("unused"),
        JwtConfig::new(ISSUER, AUDIENCE),
    )
}

#[tokio::test]
async fn es256_tokens_round_trip() {
    let f = es256_fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let header = part(&issued.secret, 0);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], f.keys.active_kid());
    assert_eq!(header["typ"], "JWT");

    let principal = f.provider.verify(&issued.secret).await.unwrap();
    assert_eq!(principal.identity.as_str(), "restart-agent");

    let jwks = f.keys.jwks();
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    assert_eq!(jwks["keys"][0]["crv"], "P-256");
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
}

#[tokio::test]
async fn a_ring_can_move_from_eddsa_to_es256_with_overlap() {
    let f = fixture();
    let old = f.provider.issue(&request()).await.unwrap();
    f.keys
        .rotate_to(SigningKey::generate_for(SignatureAlgorithm::ES256).unwrap())
        .unwrap();
    let new = f.provider.issue(&request()).await.unwrap();
    assert_eq!(part(&new.secret, 0)["alg"], "ES256");

    f.provider.verify(&old.secret).await.unwrap();
    f.provider.verify(&new.secret).await.unwrap();
    f.keys.retire(KID).unwrap();
    let err = f.provider.verify(&old.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::UnknownKey { .. }), "{err:?}");
}

#[tokio::test]
async fn the_header_cannot_switch_the_algorithm_of_a_key() {
    let f = es256_fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let text = issued.secret.expose_secret();
    let (_, rest) = text.split_once('.').unwrap();
    for alg in ["EdDSA", "ES384", "HS256", "none", "es256"] {
        let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": f.keys.active_kid()});
        let token = nhi_credentials::CredentialSecret::new(format!("{}.{rest}", b64(&header)));
        let err = f.provider.verify(&token).await.unwrap_err();
        assert!(
            matches!(err, CredentialError::UnsupportedAlgorithm { .. }),
            "{alg}: {err:?}"
        );
    }
}

#[tokio::test]
async fn keys_retire_once_their_last_token_has_expired() {
    let f = fixture();
    let old = f.provider.issue(&request()).await.unwrap();
    f.provider.rotate_keys().unwrap();
    assert!(f.provider.retire_expired_keys().is_empty());
    f.provider.verify(&old.secret).await.unwrap();

    // The maximum lifetime (1 h) plus the leeway (10 s) later, the old key goes.
    f.clock.advance(secs(3600 + 10));
    assert_eq!(f.provider.retire_expired_keys(), vec![KID.to_owned()]);
    assert_eq!(f.keys.kids().len(), 1);
}

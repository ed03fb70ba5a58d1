//! The key ring behind the JWT provider: rotation overlap, retirement, JWKS, redaction.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use nhi_credentials::{CredentialError, CredentialProvider, KeyRing, SigningKey};

#[tokio::test]
async fn previous_key_verifies_until_retired() {
    let f = fixture();
    let old = f.provider.issue(&request()).await.unwrap();

    f.keys.rotate().unwrap();
    let new_kid = f.keys.active_kid();
    assert_ne!(new_kid, KID);
    let new = f.provider.issue(&request()).await.unwrap();
    assert_eq!(part(&new.secret, 0)["kid"], new_kid.as_str());

    // Overlap window: both verify.
    f.provider.verify(&old.secret).await.unwrap();
    f.provider.verify(&new.secret).await.unwrap();

    f.keys.retire(KID).unwrap();
    let err = f.provider.verify(&old.secret).await.unwrap_err();
    assert!(matches!(err, CredentialError::UnknownKey { ref kid } if kid == KID));
    f.provider.verify(&new.secret).await.unwrap();
}

#[test]
fn the_active_key_cannot_be_retired() {
    let ring = KeyRing::generate().unwrap();
    let err = ring.retire(&ring.active_kid()).unwrap_err();
    assert!(matches!(err, CredentialError::KeyInUse { .. }));
    assert!(matches!(
        ring.retire("nope"),
        Err(CredentialError::UnknownKey { .. })
    ));
}

#[test]
fn jwks_lists_every_trusted_public_key() {
    let ring = KeyRing::generate().unwrap();
    let first = ring.active_kid();
    ring.rotate().unwrap();

    let jwks = ring.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], ring.active_kid().as_str());
    assert_eq!(keys[1]["kid"], first.as_str());
    for key in keys {
        let fields: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), 6, "{key}");
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
        assert_eq!(x.len(), 32);
        assert!(key.get("d").is_none(), "no private part");
    }

    ring.retire(&first).unwrap();
    assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn jwks_public_key_matches_the_signing_key() {
    let forger = Forger::new("k1");
    let key = forger.signing_key();
    let x = URL_SAFE_NO_PAD.encode(key.public_key());
    assert_eq!(key.jwk()["x"], x.as_str());
}

#[tokio::test]
async fn debug_output_never_shows_secrets() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let token = issued.secret.expose_secret().to_owned();
    let signature = token.rsplit('.').next().unwrap().to_owned();

    let secret_debug = format!("{:?}", issued.secret);
    assert_eq!(secret_debug, "CredentialSecret(<redacted>)");

    let issued_debug = format!("{issued:?} {issued:#?}");
    assert!(!issued_debug.contains(&signature), "{issued_debug}");
    assert!(!issued_debug.contains(&token[..20]));
    assert!(issued_debug.contains(issued.credential_id.as_str()));

    // Key material: neither the private seed nor even the public key bytes.
    let key = SigningKey::generate().unwrap();
    let key_debug = format!("{key:?} {key:#?}");
    assert!(key_debug.contains(key.kid()));
    assert!(!key_debug.contains(&URL_SAFE_NO_PAD.encode(key.public_key())));
    assert!(!key_debug.to_lowercase().contains("pkcs8"), "{key_debug}");
    for debug in [format!("{:?}", f.keys), format!("{:?}", f.provider)] {
        assert!(!debug.contains(&signature), "{debug}");
        assert!(debug.contains(KID), "{debug}");
    }
}

#[tokio::test]
async fn errors_never_echo_a_whole_token() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let token = issued.secret.expose_secret();
    let tampered = nhi_credentials::CredentialSecret::new(format!("{token}x"));
    let err = f.provider.verify(&tampered).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&token[token.len() - 20..]), "{text}");
}

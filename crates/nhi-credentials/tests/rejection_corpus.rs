//! The rejection corpus: hostile or malformed tokens, API keys and keys, each refused
//! with the typed error it deserves, none panicking.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use nhi_core::Timestamp;
use nhi_credentials::{
    ApiKeyConfig, ApiKeyProvider, CredentialError, CredentialProvider, CredentialSecret, JwkSet,
    MAX_TOKEN_BYTES, MemoryApiKeyStore, SecretHasher, VerifyingKey,
};
use ring::hmac;
use serde_json::{Value, json};

/// The error kind a case must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TooLarge,
    Malformed,
    Algorithm,
    UnknownKey,
    BadSignature,
    Issuer,
    Audience,
    Expired,
    NotYetValid,
    Checksum,
    Unknown,
    Config,
}

fn kind_of(err: &CredentialError) -> Kind {
    match err {
        CredentialError::TooLarge { .. } => Kind::TooLarge,
        CredentialError::Malformed { .. } => Kind::Malformed,
        CredentialError::UnsupportedAlgorithm { .. } => Kind::Algorithm,
        CredentialError::UnknownKey { .. } => Kind::UnknownKey,
        CredentialError::BadSignature => Kind::BadSignature,
        CredentialError::WrongIssuer { .. } => Kind::Issuer,
        CredentialError::WrongAudience { .. } => Kind::Audience,
        CredentialError::Expired { .. } => Kind::Expired,
        CredentialError::NotYetValid { .. } => Kind::NotYetValid,
        CredentialError::BadChecksum => Kind::Checksum,
        CredentialError::UnknownCredential => Kind::Unknown,
        CredentialError::InvalidConfig { .. } => Kind::Config,
        other => panic!("unexpected error {other:?}"),
    }
}

fn with(claim: &str, value: Value) -> Value {
    let mut claims = good_claims();
    claims[claim] = value;
    claims
}

fn without(claim: &str) -> Value {
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove(claim);
    claims
}

/// `header.payload.signature` from raw JSON text, signed by the forger's key.
fn raw(f: &Fixture, header: &str, payload: &str) -> CredentialSecret {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    sign_message(f, &message)
}

fn sign_message(f: &Fixture, message: &str) -> CredentialSecret {
    let pair = f.forger.key_pair();
    let signature = URL_SAFE_NO_PAD.encode(pair.sign(message.as_bytes()));
    CredentialSecret::new(format!("{message}.{signature}"))
}

fn hs256(message_header: &Value, secret: &[u8]) -> CredentialSecret {
    let message = format!("{}.{}", b64(message_header), b64(&good_claims()));
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        message.as_bytes(),
    );
    CredentialSecret::new(format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

fn token_cases(f: &Fixture) -> Vec<(&'static str, CredentialSecret, Kind)> {
    let header = |alg: &str| json!({"alg": alg, "typ": "JWT", "kid": KID});
    let good = f.forger.sign_claims(&good_claims());
    let text = good.expose_secret().to_owned();
    let parts: Vec<&str> = text.split('.').collect();
    let public = URL_SAFE_NO_PAD
        .decode(f.keys.jwks()["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let good_json = good_claims().to_string();
    let s = CredentialSecret::new;

    vec![
        // Time claims of the wrong JSON type.
        (
            "exp as a string",
            f.forger.sign_claims(&with("exp", json!("1767225900"))),
            Kind::Malformed,
        ),
        (
            "exp as a float",
            f.forger.sign_claims(&with("exp", json!(1_767_225_900.5))),
            Kind::Malformed,
        ),
        (
            "exp negative",
            f.forger.sign_claims(&with("exp", json!(-1))),
            Kind::Malformed,
        ),
        (
            "exp beyond u64",
            f.forger.sign_claims(&with("exp", json!(1e30))),
            Kind::Malformed,
        ),
        (
            "iat as a string",
            f.forger.sign_claims(&with("iat", json!("now"))),
            Kind::Malformed,
        ),
        (
            "iat as a bool",
            f.forger.sign_claims(&with("iat", json!(true))),
            Kind::Malformed,
        ),
        (
            "nbf as null",
            f.forger.sign_claims(&with("nbf", json!(null))),
            Kind::Malformed,
        ),
        (
            "nbf as an object",
            f.forger.sign_claims(&with("nbf", json!({"t": 1}))),
            Kind::Malformed,
        ),
        // `none` in any case, and algorithm confusion.
        (
            "alg none",
            f.forger.sign(&header("none"), &good_claims()),
            Kind::Algorithm,
        ),
        (
            "alg None",
            f.forger.sign(&header("None"), &good_claims()),
            Kind::Algorithm,
        ),
        (
            "alg NONE",
            f.forger.sign(&header("NONE"), &good_claims()),
            Kind::Algorithm,
        ),
        (
            "alg nOnE",
            f.forger.sign(&header("nOnE"), &good_claims()),
            Kind::Algorithm,
        ),
        (
            "alg none unsigned",
            s(format!("{}.{}.", b64(&header("none")), parts[1])),
            Kind::Malformed,
        ),
        (
            "alg eddsa lowercase",
            f.forger.sign(&header("eddsa"), &good_claims()),
            Kind::Algorithm,
        ),
        (
            "alg ES256 on an Ed25519 key",
            f.forger.sign(&header("ES256"), &good_claims()),
            Kind::Algorithm,
        ),
        (
            "HS256 keyed with the public key",
            hs256(&header("HS256"), &public),
            Kind::Algorithm,
        ),
        (
            "HS256 keyed with the JWK text",
            hs256(
                &header("HS256"),
                f.keys.jwks()["keys"][0].to_string().as_bytes(),
            ),
            Kind::Algorithm,
        ),
        (
            "alg as a number",
            f.forger
                .sign(&json!({"alg": 1, "kid": KID}), &good_claims()),
            Kind::Malformed,
        ),
        (
            "no alg",
            f.forger.sign(&json!({"kid": KID}), &good_claims()),
            Kind::Malformed,
        ),
        (
            "no kid",
            f.forger.sign(&json!({"alg": "EdDSA"}), &good_claims()),
            Kind::Malformed,
        ),
        (
            "kid unknown",
            f.forger.sign(
                &json!({"alg": "EdDSA", "kid": "../../etc/passwd"}),
                &good_claims(),
            ),
            Kind::UnknownKey,
        ),
        (
            "kid as a number",
            f.forger
                .sign(&json!({"alg": "EdDSA", "kid": 1}), &good_claims()),
            Kind::Malformed,
        ),
        // Issuers: partial, padded, other case, missing, wrong type.
        (
            "issuer with trailing slash",
            f.forger
                .sign_claims(&with("iss", json!(format!("{ISSUER}/")))),
            Kind::Issuer,
        ),
        (
            "issuer prefix only",
            f.forger.sign_claims(&with("iss", json!("https://nhi"))),
            Kind::Issuer,
        ),
        (
            "issuer upper case",
            f.forger
                .sign_claims(&with("iss", json!(ISSUER.to_uppercase()))),
            Kind::Issuer,
        ),
        (
            "issuer with suffix",
            f.forger
                .sign_claims(&with("iss", json!(format!("{ISSUER}.evil.example")))),
            Kind::Issuer,
        ),
        (
            "issuer as a list",
            f.forger.sign_claims(&with("iss", json!([ISSUER]))),
            Kind::Malformed,
        ),
        // Audiences.
        (
            "audience list without us",
            f.forger
                .sign_claims(&with("aud", json!(["billing", "admin"]))),
            Kind::Audience,
        ),
        (
            "audience empty list",
            f.forger.sign_claims(&with("aud", json!([]))),
            Kind::Audience,
        ),
        (
            "audience as a number",
            f.forger.sign_claims(&with("aud", json!(7))),
            Kind::Malformed,
        ),
        (
            "audience list of numbers",
            f.forger.sign_claims(&with("aud", json!([1, 2]))),
            Kind::Malformed,
        ),
        (
            "audience prefix",
            f.forger.sign_claims(&with("aud", json!("payments"))),
            Kind::Audience,
        ),
        // Missing claims.
        (
            "missing exp",
            f.forger.sign_claims(&without("exp")),
            Kind::Malformed,
        ),
        (
            "missing iat",
            f.forger.sign_claims(&without("iat")),
            Kind::Malformed,
        ),
        (
            "missing nbf",
            f.forger.sign_claims(&without("nbf")),
            Kind::Malformed,
        ),
        (
            "missing iss",
            f.forger.sign_claims(&without("iss")),
            Kind::Malformed,
        ),
        (
            "missing aud",
            f.forger.sign_claims(&without("aud")),
            Kind::Malformed,
        ),
        (
            "missing sub",
            f.forger.sign_claims(&without("sub")),
            Kind::Malformed,
        ),
        (
            "missing jti",
            f.forger.sign_claims(&without("jti")),
            Kind::Malformed,
        ),
        // Lifetimes and times.
        (
            "year-long lifetime",
            f.forger
                .sign_claims(&with("exp", json!(START + 365 * 24 * 3600))),
            Kind::Malformed,
        ),
        (
            "exp before iat",
            f.forger.sign_claims(&with("exp", json!(START - 1))),
            Kind::Malformed,
        ),
        (
            "issued in the future",
            {
                let mut claims = with("iat", json!(START + 3600));
                claims["nbf"] = json!(START + 3600);
                claims["exp"] = json!(START + 3900);
                f.forger.sign_claims(&claims)
            },
            Kind::NotYetValid,
        ),
        (
            "expired long ago",
            {
                let mut claims = with("iat", json!(START - 7200));
                claims["nbf"] = json!(START - 7200);
                claims["exp"] = json!(START - 6900);
                f.forger.sign_claims(&claims)
            },
            Kind::Expired,
        ),
        // Encoding and shape.
        (
            "bad base64 header",
            s(format!("e!J.{}.{}", parts[1], parts[2])),
            Kind::Malformed,
        ),
        (
            "padded base64",
            s(format!("{}=.{}.{}", parts[0], parts[1], parts[2])),
            Kind::Malformed,
        ),
        (
            "standard base64 alphabet",
            s(format!("{}.{}+/.{}", parts[0], parts[1], parts[2])),
            Kind::Malformed,
        ),
        (
            "payload not base64 of JSON",
            sign_message(f, &format!("{}.bm90IGpzb24", parts[0])),
            Kind::Malformed,
        ),
        (
            "payload a JSON array",
            raw(f, &header("EdDSA").to_string(), "[1,2]"),
            Kind::Malformed,
        ),
        (
            "truncated signature",
            s(format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40])),
            Kind::BadSignature,
        ),
        (
            "truncated to two parts",
            s(format!("{}.{}", parts[0], parts[1])),
            Kind::Malformed,
        ),
        (
            "four parts",
            s(format!("{text}.{}", parts[2])),
            Kind::Malformed,
        ),
        ("empty", s(String::new()), Kind::Malformed),
        ("huge", s("a".repeat(MAX_TOKEN_BYTES + 1)), Kind::TooLarge),
        (
            "huge but shaped",
            s(format!(
                "{}.{}.{}",
                parts[0],
                "A".repeat(MAX_TOKEN_BYTES),
                parts[2]
            )),
            Kind::TooLarge,
        ),
        (
            "signature of another token",
            s(format!(
                "{}.{}.{}",
                parts[0],
                b64(&with("sub", json!("admin"))),
                parts[2]
            )),
            Kind::BadSignature,
        ),
        // Duplicate keys and extensions.
        (
            "duplicate claim",
            raw(
                f,
                &header("EdDSA").to_string(),
                &good_json.replacen('{', "{\"sub\":\"admin\",", 1),
            ),
            Kind::Malformed,
        ),
        (
            "duplicate nested key",
            raw(
                f,
                &header("EdDSA").to_string(),
                &good_json.replacen('{', "{\"x\":{\"a\":1,\"a\":2},", 1),
            ),
            Kind::Malformed,
        ),
        (
            "duplicate header alg",
            raw(
                f,
                &format!(r#"{{"alg":"none","alg":"EdDSA","kid":"{KID}"}}"#),
                &good_json,
            ),
            Kind::Malformed,
        ),
        (
            "unknown crit",
            f.forger.sign(
                &json!({"alg": "EdDSA", "kid": KID, "crit": ["x-nhi"], "x-nhi": 1}),
                &good_claims(),
            ),
            Kind::Malformed,
        ),
        (
            "crit naming exp",
            f.forger.sign(
                &json!({"alg": "EdDSA", "kid": KID, "crit": ["exp"]}),
                &good_claims(),
            ),
            Kind::Malformed,
        ),
        (
            "b64 false",
            f.forger.sign(
                &json!({"alg": "EdDSA", "kid": KID, "b64": false}),
                &good_claims(),
            ),
            Kind::Malformed,
        ),
        (
            "typ JWE",
            f.forger.sign(
                &json!({"alg": "EdDSA", "kid": KID, "typ": "JWE"}),
                &good_claims(),
            ),
            Kind::Malformed,
        ),
        (
            "deeply nested claims",
            raw(
                f,
                &header("EdDSA").to_string(),
                &format!("{}{}", "[".repeat(3000), "]".repeat(3000)),
            ),
            Kind::Malformed,
        ),
        (
            "nesting past the parser limit",
            raw(
                f,
                &header("EdDSA").to_string(),
                &format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200)),
            ),
            Kind::Malformed,
        ),
        // Identity claims that are not valid names.
        (
            "sub with spaces",
            f.forger.sign_claims(&with("sub", json!("Admin Agent"))),
            Kind::Malformed,
        ),
        (
            "sub as a number",
            f.forger.sign_claims(&with("sub", json!(42))),
            Kind::Malformed,
        ),
        (
            "jti starting with a dash",
            f.forger.sign_claims(&with("jti", json!("-x"))),
            Kind::Malformed,
        ),
        (
            "tenant upper case",
            f.forger.sign_claims(&with("tenant", json!("ACME"))),
            Kind::Malformed,
        ),
    ]
}

#[tokio::test]
async fn every_hostile_token_gets_its_typed_error() {
    let f = fixture();
    let cases = token_cases(&f);
    for (name, token, expected) in &cases {
        let err = f.provider.verify(token).await.unwrap_err();
        assert_eq!(kind_of(&err), *expected, "{name}: {err}");
        assert!(err.is_rejection(), "{name}");
        assert!(
            err.to_string().len() < 300,
            "{name}: the error echoes too much"
        );
    }

    let api_keys = api_key_cases().await;
    let keys = key_cases();
    let total = cases.len() + api_keys + keys;
    assert!(total >= 40, "the corpus holds {total} cases");
    println!("rejection corpus: {total} cases");
}

/// Hostile API keys; returns how many were checked.
async fn api_key_cases() -> usize {
    let f = fixture();
    let provider = ApiKeyProvider::new(
        ApiKeyConfig::default(),
        SecretHasher::generate().unwrap(),
        Arc::new(MemoryApiKeyStore::new()),
        f.revocations.clone(),
        f.clock.clone(),
    )
    .unwrap();
    let issued = provider.issue(&request()).await.unwrap();
    let text = issued.secret.expose_secret().to_owned();
    let mut flipped = text.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let mut other_id = text.clone().into_bytes();
    other_id[6] = if other_id[6] == b'A' { b'B' } else { b'A' };

    let cases: Vec<(&str, String, Kind)> = vec![
        (
            "checksum off by one character",
            String::from_utf8(flipped).unwrap(),
            Kind::Checksum,
        ),
        (
            "key id changed",
            String::from_utf8(other_id).unwrap(),
            Kind::Checksum,
        ),
        (
            "secret shortened",
            format!("{}{}", &text[..text.len() - 7], &text[text.len() - 6..]),
            Kind::Malformed,
        ),
        (
            "foreign prefix",
            text.replacen("nhik", "ghp", 1),
            Kind::Checksum,
        ),
        (
            "oauth prefix",
            text.replacen("nhik", "nhic", 1),
            Kind::Checksum,
        ),
        (
            "a valid client secret",
            generate_foreign_key(ApiKeyConfig::oauth_clients()).await,
            Kind::Malformed,
        ),
        ("no separators", text.replace('_', ""), Kind::Malformed),
        (
            "non-ASCII",
            text.replacen('_', "\u{FF3F}", 1),
            Kind::Malformed,
        ),
        ("huge", "nhik_".repeat(10_000), Kind::TooLarge),
        (
            "a JWT instead",
            "eyJhbGciOiJFZERTQSJ9.e30.c2ln".to_owned(),
            Kind::Malformed,
        ),
        (
            "well formed, never issued",
            generate_foreign_key(ApiKeyConfig::default()).await,
            Kind::Unknown,
        ),
    ];
    for (name, key, expected) in &cases {
        let err = provider
            .verify(&CredentialSecret::new(key.clone()))
            .await
            .unwrap_err();
        assert_eq!(kind_of(&err), *expected, "{name}: {err}");
    }
    cases.len()
}

async fn generate_foreign_key(config: ApiKeyConfig) -> String {
    let f = fixture();
    let elsewhere = ApiKeyProvider::new(
        config,
        SecretHasher::generate().unwrap(),
        Arc::new(MemoryApiKeyStore::new()),
        f.revocations.clone(),
        f.clock.clone(),
    )
    .unwrap();
    let issued = elsewhere.issue(&request()).await.unwrap();
    issued.secret.expose_secret().to_owned()
}

/// Hostile keys and key sets; returns how many were checked.
fn key_cases() -> usize {
    let x = URL_SAFE_NO_PAD.encode([9_u8; 32]);
    let jwks: Vec<(&str, Value)> = vec![
        (
            "symmetric key in a JWKS",
            json!({"kty": "oct", "k": x, "kid": "k"}),
        ),
        (
            "RSA modulus of 1024 bits",
            json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc1_u8; 128]), "e": "AQAB", "kid": "k"}),
        ),
        (
            "RSA key declaring HS256",
            json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc1_u8; 256]), "e": "AQAB", "kid": "k", "alg": "HS256"}),
        ),
        (
            "EC key without y",
            json!({"kty": "EC", "crv": "P-256", "x": x, "kid": "k"}),
        ),
        (
            "Ed25519 key of 31 bytes",
            json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([9_u8; 31]), "kid": "k"}),
        ),
        (
            "encryption key",
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k", "use": "enc"}),
        ),
        (
            "key without kid",
            json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
        ),
        (
            "alg none on a key",
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k", "alg": "none"}),
        ),
    ];
    for (name, jwk) in &jwks {
        let err = VerifyingKey::from_jwk(jwk).unwrap_err();
        assert_eq!(kind_of(&err), Kind::Config, "{name}");
    }
    let sets: [&[u8]; 3] = [
        b"{\"keys\": 7}",
        b"{\"keys\": [], \"keys\": []}",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    ];
    for set in sets {
        assert_eq!(kind_of(&JwkSet::parse(set).unwrap_err()), Kind::Config);
    }
    let _ = Timestamp::EPOCH;
    jwks.len() + sets.len()
}

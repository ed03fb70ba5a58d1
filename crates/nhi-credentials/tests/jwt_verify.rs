//! The JWT provider: issue and verify round trips, and every way a token is refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use nhi_core::{Clock, CredentialKind, Timestamp};
use nhi_credentials::{
    CredentialError, CredentialProvider, CredentialSecret, JwtConfig, KeyRing, MAX_TOKEN_BYTES,
};
use ring::hmac;
use serde_json::json;

async fn refused(fixture: &Fixture, token: &CredentialSecret) -> CredentialError {
    let err = fixture.provider.verify(token).await.unwrap_err();
    assert!(err.is_rejection(), "{err:?} should be a refusal");
    err
}

#[tokio::test]
async fn issue_and_verify_round_trip() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    assert_eq!(issued.kind, CredentialKind::Jwt);
    assert_eq!(issued.issued_at, Timestamp::from_unix_secs(START));
    assert_eq!(issued.expires_at, Timestamp::from_unix_secs(START + 300));

    let principal = f.provider.verify(&issued.secret).await.unwrap();
    assert_eq!(principal.identity.as_str(), "restart-agent");
    assert_eq!(principal.credential_id, issued.credential_id);
    assert_eq!(principal.kind, CredentialKind::Jwt);
    assert_eq!(principal.issued_at, issued.issued_at);
    assert_eq!(principal.expires_at, issued.expires_at);
    assert_eq!(principal.scopes, ["deployment.restart", "k8s:read"]);
    assert_eq!(principal.tenant.unwrap().as_str(), "acme");
    assert_eq!(principal.environment.unwrap().as_str(), "production");
}

#[tokio::test]
async fn tokens_carry_the_documented_header_and_claims() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let header = part(&issued.secret, 0);
    let claims = part(&issued.secret, 1);

    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], KID);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "restart-agent");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["nbf"], START);
    assert_eq!(claims["exp"], START + 300);
    assert_eq!(claims["scope"], "deployment.restart k8s:read");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["env"], "production");

    // 128 random bits, and a fresh id per token.
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 32);
    assert!(jti.chars().all(|c| c.is_ascii_hexdigit()));
    let again = f.provider.issue(&request()).await.unwrap();
    assert_ne!(again.credential_id, issued.credential_id);
}

#[tokio::test]
async fn expired_after_exp_plus_leeway() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();

    // Inside the leeway it is still accepted.
    f.clock.advance(secs(300 + 9));
    f.provider.verify(&issued.secret).await.unwrap();

    f.clock.advance(secs(1));
    let err = refused(&f, &issued.secret).await;
    assert!(
        matches!(err, CredentialError::Expired { expired_at } if expired_at == issued.expires_at)
    );
}

#[tokio::test]
async fn not_yet_valid_when_issued_in_the_future() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();

    // The verifier's clock is a minute behind the issuer's: beyond the leeway.
    f.clock.set(Timestamp::from_unix_secs(START - 60));
    let err = refused(&f, &issued.secret).await;
    assert!(
        matches!(err, CredentialError::NotYetValid { .. }),
        "{err:?}"
    );

    // Within the leeway it is accepted.
    f.clock.set(Timestamp::from_unix_secs(START - 5));
    f.provider.verify(&issued.secret).await.unwrap();
}

#[tokio::test]
async fn nbf_in_the_future_is_not_yet_valid() {
    let f = fixture();
    let mut claims = good_claims();
    claims["nbf"] = json!(START + 120);
    let err = refused(&f, &f.forger.sign_claims(&claims)).await;
    assert!(
        matches!(err, CredentialError::NotYetValid { valid_from } if valid_from == Timestamp::from_unix_secs(START + 120))
    );
}

#[tokio::test]
async fn forged_good_claims_verify() {
    // The forger itself must produce acceptable tokens, or the refusals below prove nothing.
    let f = fixture();
    let principal = f
        .provider
        .verify(&f.forger.sign_claims(&good_claims()))
        .await
        .unwrap();
    assert_eq!(principal.scopes, ["deployment.restart"]);

    let mut claims = good_claims();
    claims["aud"] = json!(["someone-else", AUDIENCE]);
    f.provider
        .verify(&f.forger.sign_claims(&claims))
        .await
        .unwrap();
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let parts: Vec<&str> = issued.secret.expose_secret().split('.').collect();

    let mut claims = part(&issued.secret, 1);
    claims["sub"] = json!("admin-agent");
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    let err = refused(&f, &CredentialSecret::new(forged)).await;
    assert!(matches!(err, CredentialError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    let f = fixture();
    let issued = f.provider.issue(&request()).await.unwrap();
    let parts: Vec<&str> = issued.secret.expose_secret().split('.').collect();

    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[0] ^= 0x01;
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&signature)
    );
    let err = refused(&f, &CredentialSecret::new(forged)).await;
    assert!(matches!(err, CredentialError::BadSignature), "{err:?}");

    let truncated = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]);
    refused(&f, &CredentialSecret::new(truncated)).await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = fixture();
    let header = json!({"alg": "none", "typ": "JWT", "kid": KID});
    let unsigned = format!("{}.{}.", b64(&header), b64(&good_claims()));
    let err = refused(&f, &CredentialSecret::new(unsigned)).await;
    assert!(matches!(err, CredentialError::Malformed { .. }), "{err:?}");

    // Even with a valid EdDSA signature attached, `none` in the header is refused.
    let signed = f.forger.sign(&header, &good_claims());
    let err = refused(&f, &signed).await;
    assert!(
        matches!(err, CredentialError::UnsupportedAlgorithm { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn hs256_with_the_public_key_as_secret_is_refused() {
    let f = fixture();
    let jwks = f.keys.jwks();
    let x = jwks["keys"][0]["x"].as_str().unwrap();
    let public = URL_SAFE_NO_PAD.decode(x).unwrap();

    let header = json!({"alg": "HS256", "typ": "JWT", "kid": KID});
    let message = format!("{}.{}", b64(&header), b64(&good_claims()));
    for secret in [public.as_slice(), x.as_bytes()] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let tag = URL_SAFE_NO_PAD.encode(hmac::sign(&key, message.as_bytes()));
        let token = CredentialSecret::new(format!("{message}.{tag}"));
        let err = refused(&f, &token).await;
        assert!(
            matches!(err, CredentialError::UnsupportedAlgorithm { .. }),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let f = fixture();
    for header in [
        json!({"alg": "EdDSA", "kid": KID, "crit": ["exp"], "exp": 1}),
        json!({"alg": "EdDSA", "kid": KID, "crit": ["b64"], "b64": true}),
        json!({"alg": "EdDSA", "kid": KID, "b64": false}),
    ] {
        let err = refused(&f, &f.forger.sign(&header, &good_claims())).await;
        assert!(matches!(err, CredentialError::Malformed { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let f = fixture();
    let other = common::fixture_with(
        f.keys.clone(),
        Forger::new("unused"),
        JwtConfig::new("https://evil.example", AUDIENCE),
    );
    let issued = other.provider.issue(&request()).await.unwrap();
    let err = refused(&f, &issued.secret).await;
    assert!(
        matches!(err, CredentialError::WrongIssuer { ref issuer } if issuer == "https://evil.example")
    );

    // Exact match only: a trailing slash is another issuer.
    let mut claims = good_claims();
    claims["iss"] = json!(format!("{ISSUER}/"));
    let err = refused(&f, &f.forger.sign_claims(&claims)).await;
    assert!(matches!(err, CredentialError::WrongIssuer { .. }));
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let f = fixture();
    let issued = f
        .provider
        .issue(&request().with_audience("billing-api"))
        .await
        .unwrap();
    assert_eq!(part(&issued.secret, 1)["aud"], "billing-api");
    let err = refused(&f, &issued.secret).await;
    assert!(
        matches!(err, CredentialError::WrongAudience { .. }),
        "{err:?}"
    );

    let mut claims = good_claims();
    claims["aud"] = json!([]);
    refused(&f, &f.forger.sign_claims(&claims)).await;
}

#[tokio::test]
async fn unknown_kid_is_refused() {
    let f = fixture();
    let stranger = Forger::new("not-in-ring");
    let err = refused(&f, &stranger.sign_claims(&good_claims())).await;
    assert!(matches!(err, CredentialError::UnknownKey { ref kid } if kid == "not-in-ring"));
}

#[tokio::test]
async fn a_token_from_another_key_ring_is_refused() {
    let f = fixture();

    // A ring of its own with a random key id.
    let other = common::fixture_with(
        std::sync::Arc::new(KeyRing::generate().unwrap()),
        Forger::new("unused"),
        JwtConfig::new(ISSUER, AUDIENCE),
    );
    let issued = other.provider.issue(&request()).await.unwrap();
    let err = refused(&f, &issued.secret).await;
    assert!(matches!(err, CredentialError::UnknownKey { .. }), "{err:?}");

    // Another key that reuses our key id: the signature gives it away.
    let impostor = Forger::new(KID);
    let err = refused(&f, &impostor.sign_claims(&good_claims())).await;
    assert!(matches!(err, CredentialError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn oversized_tokens_are_refused_before_parsing() {
    let f = fixture();
    let huge = CredentialSecret::new("a".repeat(MAX_TOKEN_BYTES + 1));
    let err = refused(&f, &huge).await;
    assert!(matches!(err, CredentialError::TooLarge { max, .. } if max == MAX_TOKEN_BYTES));

    let mut claims = good_claims();
    claims["padding"] = json!("x".repeat(MAX_TOKEN_BYTES));
    let err = refused(&f, &f.forger.sign_claims(&claims)).await;
    assert!(matches!(err, CredentialError::TooLarge { .. }));
}

#[tokio::test]
async fn garbage_is_refused_without_panicking() {
    let f = fixture();
    let garbage = [
        "",
        ".",
        "..",
        "...",
        "not a token",
        "eyJhbGciOiJFZERTQSJ9",
        "eyJhbGciOiJFZERTQSJ9.e30",
        "eyJhbGciOiJFZERTQSJ9.e30.e30.e30",
        "e30.e30.e30",
        "bnVsbA.bnVsbA.bnVsbA",
        "W10.W10.W10",
        "////.////.////",
        "\u{0}\u{0}.\u{0}.\u{0}",
        "ünïcödé.ünïcödé.ünïcödé",
        "Bearer eyJ.eyJ.sig",
    ];
    for text in garbage {
        let err = refused(&f, &CredentialSecret::new(text)).await;
        assert!(!err.to_string().contains("ünïcödé.ünïcödé"), "{err}");
    }
}

#[tokio::test]
async fn claims_of_the_wrong_type_or_missing_are_refused() {
    let f = fixture();
    let breakages: [(&str, serde_json::Value); 9] = [
        ("exp", json!("1767225900")),
        ("exp", json!(1_767_225_900.5)),
        ("iat", json!(-1)),
        ("nbf", json!(null)),
        ("sub", json!(42)),
        ("sub", json!("Admin Agent")),
        ("jti", json!(["a"])),
        ("jti", json!("-starts-with-dash")),
        ("tenant", json!("ACME")),
    ];
    for (claim, value) in breakages {
        let mut claims = good_claims();
        claims[claim] = value;
        let err = refused(&f, &f.forger.sign_claims(&claims)).await;
        assert!(
            matches!(err, CredentialError::Malformed { .. }),
            "{claim}: {err:?}"
        );
    }
    for claim in ["exp", "iat", "nbf", "sub", "jti", "iss", "aud"] {
        let mut claims = good_claims();
        claims.as_object_mut().unwrap().remove(claim);
        let err = refused(&f, &f.forger.sign_claims(&claims)).await;
        assert!(
            matches!(err, CredentialError::Malformed { .. }),
            "{claim}: {err:?}"
        );
    }
}

#[tokio::test]
async fn lifetimes_beyond_the_maximum_are_refused() {
    let f = fixture();
    let mut claims = good_claims();
    claims["exp"] = json!(START + 3600 + 1);
    let err = refused(&f, &f.forger.sign_claims(&claims)).await;
    assert!(matches!(err, CredentialError::Malformed { .. }), "{err:?}");

    let mut claims = good_claims();
    claims["exp"] = json!(START - 1);
    refused(&f, &f.forger.sign_claims(&claims)).await;
}

#[tokio::test]
async fn requested_lifetime_is_capped_not_refused() {
    let f = fixture();
    let issued = f
        .provider
        .issue(&request().with_lifetime(secs(5 * 3600)))
        .await
        .unwrap();
    assert_eq!(
        issued.expires_at.duration_since(issued.issued_at),
        secs(3600)
    );
    f.provider.verify(&issued.secret).await.unwrap();

    let short = f
        .provider
        .issue(&request().with_lifetime(secs(30)))
        .await
        .unwrap();
    assert_eq!(short.expires_at.duration_since(short.issued_at), secs(30));

    let err = f
        .provider
        .issue(&request().with_lifetime(secs(0)))
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::InvalidRequest { .. }));
    assert!(!err.is_rejection());
}

#[tokio::test]
async fn bad_requests_and_configs_are_caller_errors() {
    let f = fixture();
    for scopes in [vec!["two words"], vec![""]] {
        let err = f
            .provider
            .issue(&request().with_scopes(scopes))
            .await
            .unwrap_err();
        assert!(matches!(err, CredentialError::InvalidRequest { .. }));
    }
    let many: Vec<String> = (0..2000).map(|n| format!("scope-{n}")).collect();
    let err = f
        .provider
        .issue(&request().with_scopes(many))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CredentialError::InvalidRequest { .. }),
        "{err:?}"
    );

    let mut config = JwtConfig::new(ISSUER, AUDIENCE);
    config.leeway = secs(60);
    let made = nhi_credentials::JwtProvider::new(
        config,
        f.keys.clone(),
        f.revocations.clone(),
        f.clock.clone(),
    );
    assert!(matches!(made, Err(CredentialError::InvalidConfig { .. })));
    let _ = f.clock.now();
}

//! Workload identity federation: external issuers of every supported algorithm, the
//! JWKS cache, exact trust policies and the token exchange.

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
use common::external::{CountingSource, ExternalKey};
use common::*;
use nhi_core::{CredentialKind, Environment, IdentityId, TenantId};
use nhi_credentials::{
    CredentialError, CredentialProvider, CredentialSecret, ExternalIssuer, ExternalVerifier,
    GITHUB_ACTIONS_ISSUER, JwkSet, JwtConfig, JwtProvider, TOKEN_TYPE_ACCESS_TOKEN, TokenExchange,
    TokenExchangeRequest, TrustPolicy, VerifyingKey,
};
use ring::hmac;
use serde_json::{Value, json};

const STS_AUDIENCE: &str = "https://sts.nhi.example";
const K8S_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

fn github_claims() -> Value {
    json!({
        "iss": GITHUB_ACTIONS_ISSUER,
        "aud": STS_AUDIENCE,
        "sub": "repo:acme/deploy:ref:refs/heads/main",
        "repository": "acme/deploy",
        "repository_id": "123456789",
        "ref": "refs/heads/main",
        "iat": START,
        "nbf": START,
        "exp": START + 300,
        "jti": "gh-run-1",
    })
}

fn verifier(f: &Fixture, issuer: &str, source: Arc<CountingSource>) -> ExternalVerifier {
    ExternalVerifier::new(
        ExternalIssuer::new(issuer, STS_AUDIENCE),
        source,
        f.clock.clone(),
    )
    .unwrap()
}

fn github_policy() -> TrustPolicy {
    TrustPolicy::github_actions(
        "acme/deploy",
        "refs/heads/main",
        "123456789",
        IdentityId::new("deploy-pipeline").unwrap(),
        TenantId::new("acme").unwrap(),
        Environment::new("production").unwrap(),
    )
    .with_scopes(["deployment.create", "artifact.read"])
}

struct Exchange {
    f: Fixture,
    tokens: Arc<JwtProvider>,
    github: ExternalKey,
    exchange: TokenExchange,
}

fn exchange() -> Exchange {
    let f = fixture();
    let tokens = Arc::new(
        JwtProvider::new(
            JwtConfig::new(ISSUER, AUDIENCE),
            f.keys.clone(),
            f.revocations.clone(),
            f.clock.clone(),
        )
        .unwrap(),
    );
    let github = ExternalKey::new("gh-1", "RS256");
    let mut exchange = TokenExchange::new(tokens.clone());
    exchange
        .trust_issuer(verifier(
            &f,
            GITHUB_ACTIONS_ISSUER,
            CountingSource::serving(&[&github]),
        ))
        .unwrap();
    exchange.add_policy(github_policy()).unwrap();
    Exchange {
        f,
        tokens,
        github,
        exchange,
    }
}

#[tokio::test]
async fn every_external_algorithm_verifies_through_its_jwks() {
    let f = fixture();
    for alg in ["EdDSA", "ES256", "ES384", "RS256", "PS256"] {
        let key = ExternalKey::new(&format!("k-{alg}"), alg);
        let external = verifier(&f, GITHUB_ACTIONS_ISSUER, CountingSource::serving(&[&key]));
        let claims = external.verify(&key.sign(&github_claims())).await.unwrap();
        assert_eq!(
            claims.subject, "repo:acme/deploy:ref:refs/heads/main",
            "{alg}"
        );
        assert_eq!(claims.claim("repository_id"), Some(&json!("123456789")));
    }
}

#[tokio::test]
async fn hs256_only_with_a_configured_shared_secret() {
    let f = fixture();
    let shared = ExternalKey::new("shared", "HS256");
    let keys = JwkSet::from_keys([VerifyingKey::hs256_shared_secret("shared", &[7; 32]).unwrap()])
        .unwrap();
    let config = ExternalIssuer::new("https://legacy.example", STS_AUDIENCE);
    let legacy = ExternalVerifier::with_keys(config, keys, f.clock.clone()).unwrap();
    let mut claims = github_claims();
    claims["iss"] = json!("https://legacy.example");
    legacy.verify(&shared.sign(&claims)).await.unwrap();

    // A short secret is refused, and a key set never yields a symmetric key.
    assert!(VerifyingKey::hs256_shared_secret("s", &[7; 16]).is_err());
    let oct =
        json!({"keys": [{"kty": "oct", "k": URL_SAFE_NO_PAD.encode([7; 32]), "kid": "shared"}]});
    assert!(
        JwkSet::parse(oct.to_string().as_bytes())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_public_key_is_never_an_hmac_secret() {
    let f = fixture();
    let rsa = ExternalKey::new("rsa-1", "RS256");
    let ec = ExternalKey::new("ec-1", "ES256");
    let external = verifier(
        &f,
        GITHUB_ACTIONS_ISSUER,
        CountingSource::serving(&[&rsa, &ec]),
    );
    for key in [&rsa, &ec] {
        let jwk = key.jwk();
        let secrets = [
            serde_json::to_vec(&jwk).unwrap(),
            URL_SAFE_NO_PAD
                .decode(jwk.get("n").or(jwk.get("x")).unwrap().as_str().unwrap())
                .unwrap(),
        ];
        for secret in secrets {
            let header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid});
            let message = format!("{}.{}", b64(&header), b64(&github_claims()));
            let tag = hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, &secret),
                message.as_bytes(),
            );
            let token = CredentialSecret::new(format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag)));
            let err = external.verify(&token).await.unwrap_err();
            assert!(
                matches!(err, CredentialError::UnsupportedAlgorithm { .. }),
                "{err:?}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let f = fixture();
    let first = ExternalKey::new("k1", "ES256");
    let source = CountingSource::serving(&[&first]);
    let external = verifier(&f, GITHUB_ACTIONS_ISSUER, source.clone());

    // First use fetches; known keys never fetch again.
    external
        .verify(&first.sign(&github_claims()))
        .await
        .unwrap();
    external
        .verify(&first.sign(&github_claims()))
        .await
        .unwrap();
    assert_eq!(source.fetches(), 1);

    // The issuer rotates; an unknown kid within the interval does not fetch.
    let second = ExternalKey::new("k2", "ES256");
    source.serve(&[&first, &second]);
    for _ in 0..20 {
        let err = external
            .verify(&second.sign(&github_claims()))
            .await
            .unwrap_err();
        assert!(matches!(err, CredentialError::UnknownKey { .. }), "{err:?}");
    }
    assert_eq!(source.fetches(), 1);

    // Once the interval has passed, one fetch picks the new key up.
    f.clock.advance(secs(300));
    let mut claims = github_claims();
    claims["iat"] = json!(START + 300);
    claims["nbf"] = json!(START + 300);
    claims["exp"] = json!(START + 600);
    external.verify(&second.sign(&claims)).await.unwrap();
    external.verify(&second.sign(&claims)).await.unwrap();
    assert_eq!(source.fetches(), 2);

    // A failing source fails closed with a backend error, not a panic or a pass.
    f.clock.advance(secs(300));
    source.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let third = ExternalKey::new("k3", "ES256");
    let err = external.verify(&third.sign(&claims)).await.unwrap_err();
    assert!(matches!(err, CredentialError::Backend { .. }), "{err:?}");
    assert!(!err.is_rejection());
}

#[tokio::test]
async fn github_tokens_are_exchanged_for_our_short_lived_token() {
    let x = exchange();
    let mut request = TokenExchangeRequest::new(x.github.sign(&github_claims()));
    request.scope = Some("deployment.create cluster.admin".into());
    let response = x.exchange.exchange(&request).await.unwrap();

    assert_eq!(response.issued_token_type, TOKEN_TYPE_ACCESS_TOKEN);
    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, 300);
    assert_eq!(response.scope, "deployment.create");
    assert_eq!(response.policy, "github:acme/deploy:refs/heads/main");

    let principal = x
        .tokens
        .verify(&response.access_token.secret)
        .await
        .unwrap();
    assert_eq!(principal.identity.as_str(), "deploy-pipeline");
    assert_eq!(principal.scopes, ["deployment.create"]);
    assert_eq!(principal.actor, None);
    assert!(part(&response.access_token.secret, 1).get("act").is_none());
}

#[tokio::test]
async fn an_agent_acting_for_the_workload_is_named_in_act() {
    let x = exchange();
    let agent = x.tokens.issue(&request()).await.unwrap();
    let mut request = TokenExchangeRequest::new(x.github.sign(&github_claims()));
    request.actor_token = Some(agent.secret.clone());
    request.actor_token_type = Some(nhi_credentials::TOKEN_TYPE_JWT.into());
    let response = x.exchange.exchange(&request).await.unwrap();

    let claims = part(&response.access_token.secret, 1);
    assert_eq!(claims["sub"], "deploy-pipeline");
    assert_eq!(claims["act"], json!({"sub": "restart-agent"}));
    let principal = x
        .tokens
        .verify(&response.access_token.secret)
        .await
        .unwrap();
    assert_eq!(principal.actor.as_deref(), Some("restart-agent"));

    // An actor token that does not verify stops the exchange.
    request.actor_token = Some(CredentialSecret::new("forged.actor.token"));
    assert!(
        x.exchange
            .exchange(&request)
            .await
            .unwrap_err()
            .is_rejection()
    );
}

#[tokio::test]
async fn policies_bind_claims_exactly() {
    let x = exchange();
    let near_misses: [(&str, Value); 7] = [
        ("sub", json!("repo:acme/deploy:ref:refs/heads/main-evil")),
        ("sub", json!("repo:acme/deploy:ref:refs/heads/MAIN")),
        ("sub", json!("repo:acme/deploy:pull_request")),
        ("sub", json!("repo:acme/deploy-fork:ref:refs/heads/main")),
        ("repository_id", json!("987654321")),
        ("repository_id", json!(123_456_789)),
        ("repository", json!("ACME/deploy")),
    ];
    for (claim, value) in near_misses {
        let mut claims = github_claims();
        claims[claim] = value;
        let request = TokenExchangeRequest::new(x.github.sign(&claims));
        let err = x.exchange.exchange(&request).await.unwrap_err();
        assert!(
            matches!(err, CredentialError::NotTrusted { .. }),
            "{claim}: {err:?}"
        );
        assert!(err.is_rejection());
    }

    // A partial or look-alike issuer is not trusted at all.
    for issuer in [
        "https://token.actions.githubusercontent.com/",
        "https://token.actions.githubusercontent.com.evil.example",
        "token.actions.githubusercontent.com",
    ] {
        let mut claims = github_claims();
        claims["iss"] = json!(issuer);
        let request = TokenExchangeRequest::new(x.github.sign(&claims));
        let err = x.exchange.exchange(&request).await.unwrap_err();
        assert!(
            matches!(err, CredentialError::WrongIssuer { .. }),
            "{issuer}: {err:?}"
        );
    }
}

#[tokio::test]
async fn kubernetes_service_accounts_with_a_capped_lifetime() {
    let f = fixture();
    let tokens = Arc::new(
        JwtProvider::new(
            JwtConfig::new(ISSUER, AUDIENCE),
            f.keys.clone(),
            f.revocations.clone(),
            f.clock.clone(),
        )
        .unwrap(),
    );
    let cluster = ExternalKey::new("cluster-1", "RS256");
    let config = ExternalIssuer::new(K8S_ISSUER, STS_AUDIENCE).with_max_lifetime(secs(600));
    let verifier = ExternalVerifier::new(
        config,
        CountingSource::serving(&[&cluster]),
        f.clock.clone(),
    )
    .unwrap();
    let mut exchange = TokenExchange::new(tokens);
    exchange.trust_issuer(verifier).unwrap();
    exchange
        .add_policy(TrustPolicy::kubernetes_service_account(
            K8S_ISSUER,
            "payments",
            "reconciler",
            IdentityId::new("payments-reconciler").unwrap(),
            TenantId::new("acme").unwrap(),
            Environment::new("production").unwrap(),
        ))
        .unwrap();

    let claims = json!({
        "iss": K8S_ISSUER, "aud": [STS_AUDIENCE], "sub": "system:serviceaccount:payments:reconciler",
        "iat": START, "nbf": START, "exp": START + 600,
    });
    let principal = exchange.verify(&cluster.sign(&claims)).await.unwrap();
    assert_eq!(principal.identity.as_str(), "payments-reconciler");
    assert_eq!(principal.kind, CredentialKind::Federated);
    assert!(principal.credential_id.as_str().starts_with("ext-"));

    // A year-long projected token is refused by the per-issuer cap.
    let mut long = claims.clone();
    long["exp"] = json!(START + 365 * 24 * 3600);
    let err = exchange.verify(&cluster.sign(&long)).await.unwrap_err();
    assert!(matches!(err, CredentialError::Malformed { .. }), "{err:?}");

    // Another namespace's account with the same name is someone else.
    let mut other = claims.clone();
    other["sub"] = json!("system:serviceaccount:default:reconciler");
    let err = exchange.verify(&cluster.sign(&other)).await.unwrap_err();
    assert!(matches!(err, CredentialError::NotTrusted { .. }), "{err:?}");
}

#[tokio::test]
async fn misconfiguration_and_bad_requests_are_caller_errors() {
    let mut x = exchange();
    let loose = TrustPolicy::new(
        "any-github",
        GITHUB_ACTIONS_ISSUER,
        IdentityId::new("x").unwrap(),
        TenantId::new("acme").unwrap(),
        Environment::new("production").unwrap(),
    )
    .require_claim("repository_id", "123456789");
    assert!(matches!(
        x.exchange.add_policy(loose),
        Err(CredentialError::InvalidConfig { .. })
    ));

    let unknown_issuer = TrustPolicy::kubernetes_service_account(
        K8S_ISSUER,
        "a",
        "b",
        IdentityId::new("x").unwrap(),
        TenantId::new("acme").unwrap(),
        Environment::new("production").unwrap(),
    );
    assert!(x.exchange.add_policy(unknown_issuer).is_err());

    let mut request = TokenExchangeRequest::new(x.github.sign(&github_claims()));
    request.subject_token_type = "urn:ietf:params:oauth:token-type:saml2".into();
    let err = x.exchange.exchange(&request).await.unwrap_err();
    assert!(
        matches!(err, CredentialError::InvalidRequest { .. }),
        "{err:?}"
    );

    let err = x.exchange.issue(&common::request()).await.unwrap_err();
    assert!(matches!(err, CredentialError::InvalidRequest { .. }));

    // Two policies matching the same token is ambiguous and refused.
    x.exchange.add_policy(github_policy()).unwrap();
    let request = TokenExchangeRequest::new(x.github.sign(&github_claims()));
    let err = x.exchange.exchange(&request).await.unwrap_err();
    assert!(matches!(err, CredentialError::NotTrusted { .. }), "{err:?}");
    let _ = &x.f;
}

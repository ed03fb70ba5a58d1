//! OAuth client credentials: registration, the exchange for a narrowed short-lived token,
//! and every way a client is refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use nhi_core::CredentialKind;
use nhi_credentials::{
    ApiKeyConfig, ClientCredentialsRequest, CredentialError, CredentialProvider, CredentialSecret,
    JwtConfig, MemoryApiKeyStore, OAuthClientProvider, SecretHasher,
};

struct Setup {
    fixture: Fixture,
    tokens: Arc<nhi_credentials::JwtProvider>,
    clients: OAuthClientProvider,
}

fn setup() -> Setup {
    let fixture = fixture();
    let tokens = Arc::new(
        nhi_credentials::JwtProvider::new(
            JwtConfig::new(ISSUER, AUDIENCE),
            fixture.keys.clone(),
            fixture.revocations.clone(),
            fixture.clock.clone(),
        )
        .unwrap(),
    );
    let clients = OAuthClientProvider::new(
        ApiKeyConfig::oauth_clients(),
        SecretHasher::generate().unwrap(),
        Arc::new(MemoryApiKeyStore::new()),
        fixture.revocations.clone(),
        tokens.clone(),
        fixture.clock.clone(),
    )
    .unwrap();
    Setup {
        fixture,
        tokens,
        clients,
    }
}

fn grant(
    client_id: &str,
    secret: &CredentialSecret,
    scope: Option<&str>,
) -> ClientCredentialsRequest {
    ClientCredentialsRequest {
        client_id: client_id.to_owned(),
        client_secret: secret.clone(),
        scope: scope.map(str::to_owned),
        audience: None,
        lifetime: None,
    }
}

#[tokio::test]
async fn a_client_exchanges_its_secret_for_a_narrowed_token() {
    let s = setup();
    let client = s.clients.issue(&request()).await.unwrap();
    assert_eq!(client.kind, CredentialKind::OauthClient);
    assert!(client.secret.expose_secret().starts_with("nhic_"));
    let client_id = client.credential_id.as_str();

    let response = s
        .clients
        .exchange(&grant(
            client_id,
            &client.secret,
            Some("k8s:read admin deployment.restart"),
        ))
        .await
        .unwrap();
    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, 300);
    assert_eq!(response.scope, "k8s:read deployment.restart");

    let principal = s
        .tokens
        .verify(&response.access_token.secret)
        .await
        .unwrap();
    assert_eq!(principal.identity.as_str(), "restart-agent");
    assert_eq!(principal.scopes, ["k8s:read", "deployment.restart"]);
    assert_eq!(principal.kind, CredentialKind::Jwt);

    // No scope asked: every allowed scope.
    let all = s
        .clients
        .exchange(&grant(client_id, &client.secret, None))
        .await
        .unwrap();
    assert_eq!(all.scope, "deployment.restart k8s:read");
}

#[tokio::test]
async fn clients_are_refused_for_the_right_reasons() {
    let s = setup();
    let client = s.clients.issue(&request()).await.unwrap();
    let other = s.clients.issue(&request()).await.unwrap();
    let client_id = client.credential_id.as_str();

    // Another client's secret under this client id.
    let err = s
        .clients
        .exchange(&grant(client_id, &other.secret, None))
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::WrongSecret), "{err:?}");

    // Nothing requested is allowed.
    let err = s
        .clients
        .exchange(&grant(client_id, &client.secret, Some("admin root")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CredentialError::InvalidScope { .. }),
        "{err:?}"
    );
    assert!(!err.is_rejection());

    // An API key is not a client secret, and a look-alike fails its checksum.
    let mut text = client.secret.expose_secret().to_owned();
    let api_key = CredentialSecret::new(text.replacen("nhic", "nhik", 1));
    let err = s
        .clients
        .exchange(&grant(client_id, &api_key, None))
        .await
        .unwrap_err();
    assert!(err.is_rejection(), "{err:?}");
    text.pop();
    text.push('!');
    let err = s
        .clients
        .exchange(&grant(client_id, &CredentialSecret::new(text), None))
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::Malformed { .. }), "{err:?}");

    // A revoked client gets nothing.
    use nhi_core::Clock;
    use nhi_credentials::RevocationList;
    s.fixture
        .revocations
        .revoke(
            &client.credential_id,
            s.fixture.clock.now(),
            client.expires_at,
        )
        .await
        .unwrap();
    let err = s
        .clients
        .exchange(&grant(client_id, &client.secret, None))
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::Revoked { .. }), "{err:?}");
}

#[tokio::test]
async fn access_tokens_are_short_lived_and_secrets_renew_with_reuse_detection() {
    let s = setup();
    let client = s.clients.issue(&request()).await.unwrap();
    let id = client.credential_id.as_str();

    let mut asked = grant(id, &client.secret, None);
    asked.lifetime = Some(Duration::from_secs(24 * 3600));
    let response = s.clients.exchange(&asked).await.unwrap();
    assert_eq!(
        response.expires_in, 3600,
        "capped at the token provider's maximum"
    );

    let renewed = s.clients.renew_secret(&client.secret).await.unwrap();
    let renewed_id = renewed.credential_id.as_str();
    s.clients
        .exchange(&grant(renewed_id, &renewed.secret, None))
        .await
        .unwrap();
    let err = s
        .clients
        .exchange(&grant(id, &client.secret, None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CredentialError::ReuseDetected { .. }),
        "{err:?}"
    );
}

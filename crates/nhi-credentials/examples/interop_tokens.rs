//! Writes tokens this crate issues, and the JWKS that verifies them, into a directory so
//! that another JWT implementation can check them (see `tests/interop/pyjwt_check.py`).
//!
//! Run: `cargo run -p nhi-credentials --example interop_tokens -- <directory>`.
//! Writes `jwks.json`, `eddsa.jwt`, `es256.jwt` and `expected.json` (issuer, audience,
//! subject, scopes). The tokens live five minutes from now by the system clock.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use nhi_core::{Environment, IdentityId, SystemClock, TenantId};
use nhi_credentials::{
    CredentialProvider, IssueRequest, JwtConfig, JwtProvider, KeyRing, MemoryRevocationList,
    SignatureAlgorithm, SigningKey,
};
use serde_json::json;

const ISSUER: &str = "https://nhi.example";
const AUDIENCE: &str = "interop-check";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let directory: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: interop_tokens <directory>")?
        .into();
    std::fs::create_dir_all(&directory)?;

    // One ring holding an EdDSA key (issues first) and then an ES256 key (issues second):
    // its JWKS carries both.
    let keys = Arc::new(KeyRing::generate()?);
    let provider = JwtProvider::new(
        JwtConfig::new(ISSUER, AUDIENCE),
        keys.clone(),
        Arc::new(MemoryRevocationList::new()),
        Arc::new(SystemClock),
    )?;
    let request = IssueRequest::new(
        IdentityId::new("interop-agent")?,
        TenantId::new("acme")?,
        Environment::new("production")?,
    )
    .with_scopes(["deployment.read", "k8s:health.read"]);

    let eddsa = provider.issue(&request).await?;
    keys.rotate_to(SigningKey::generate_for(SignatureAlgorithm::ES256)?)?;
    let es256 = provider.issue(&request).await?;

    // The tokens are written on purpose: this program exists to hand them to a checker.
    std::fs::write(directory.join("eddsa.jwt"), eddsa.secret.expose_secret())?;
    std::fs::write(directory.join("es256.jwt"), es256.secret.expose_secret())?;
    std::fs::write(directory.join("jwks.json"), keys.jwks().to_string())?;
    let expected = json!({
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "interop-agent",
        "scope": "deployment.read k8s:health.read",
        "tokens": {"eddsa.jwt": "EdDSA", "es256.jwt": "ES256"},
    });
    std::fs::write(directory.join("expected.json"), expected.to_string())?;
    println!("wrote 2 tokens and the JWKS to {}", directory.display());
    Ok(())
}

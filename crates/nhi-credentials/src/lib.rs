//! Credential providers for non-human identities: short-lived signed tokens, key ring, revocation and a mock provider

#![forbid(unsafe_code)]

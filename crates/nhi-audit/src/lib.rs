//! Structured, tamper-evident audit events for non-human identities, sinks and a chain verifier

#![forbid(unsafe_code)]

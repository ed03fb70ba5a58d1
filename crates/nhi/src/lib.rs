//! Control plane for non-human identities: one enforcement path from credential to audit, and the lifecycle operations

#![forbid(unsafe_code)]

//! Identity records, the lifecycle state machine, the IdentityStore trait, reconciliation and program metrics

#![forbid(unsafe_code)]

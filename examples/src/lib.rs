//! Support code for the runnable programs in this folder.
//!
//! The programs themselves live beside it (`remediation_agent/`); what they share and
//! what deserves tests lives here.

#![forbid(unsafe_code)]

pub mod inventory;

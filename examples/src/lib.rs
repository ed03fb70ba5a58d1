//! Support code for the runnable programs in this folder.
//!
//! The programs themselves live beside it (`remediation_agent/`); what they share and
//! what deserves tests lives here, starting with the estate inventory format:
//!
//! ```
//! use nhi_examples::inventory::Inventory;
//!
//! let inventory = Inventory::parse(r#"
//!     teams = ["sre"]
//!
//!     [[identity]]
//!     id = "restart-agent"
//!     kind = "ai-agent"
//!     owner = { team = "sre" }
//!     purpose = "Restarts unhealthy services during incidents."
//!     environment = "production"
//!     tenant = "acme"
//!     allowed_systems = ["k8s"]
//!     scopes = ["k8s:deployment.restart"]
//!     credential = { kind = "jwt", lifetime = "5m" }
//!     rotation_interval = "7d"
//!     risk_tier = "medium"
//!     expires_in = "90d"
//! "#)?;
//! assert_eq!(inventory.identity.len(), 1);
//! # Ok::<(), nhi_examples::inventory::InventoryError>(())
//! ```

#![forbid(unsafe_code)]

pub mod inventory;

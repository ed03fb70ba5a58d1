//! The shipped estate loads and provisions; a broken inventory is a clear error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::sync::Arc;

use nhi::core::{ManualClock, SharedClock, Timestamp};
use nhi::registry::{LifecycleState, MemoryStore, Registry};
use nhi_examples::inventory::{Inventory, InventoryError};

fn shipped() -> Inventory {
    Inventory::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/inventory.toml")).unwrap()
}

#[test]
fn the_shipped_estate_is_realistic() {
    let inventory = shipped();
    assert!(inventory.identity.len() >= 12);
    let kinds: std::collections::BTreeSet<_> = inventory.identity.iter().map(|e| e.kind).collect();
    let tenants: std::collections::BTreeSet<_> = inventory
        .identity
        .iter()
        .map(|e| e.tenant.clone())
        .collect();
    let tiers: std::collections::BTreeSet<_> =
        inventory.identity.iter().map(|e| e.risk_tier).collect();
    assert!(kinds.len() >= 5 && tenants.len() >= 3 && tiers.len() >= 3);
    assert!(
        inventory.identity.iter().any(|e| e.owner.is_none()),
        "an orphan"
    );
    assert!(
        inventory.identity.iter().any(|e| e.expired_ago.is_some()),
        "an expired identity"
    );
    assert!(
        inventory
            .identity
            .iter()
            .any(|e| e.last_used_ago.is_some_and(|d| d.0.as_secs() > 90 * 86_400))
    );
}

#[tokio::test]
async fn every_request_passes_the_registry_guard_rails() {
    let clock: SharedClock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_800_000_000)));
    let registry = Registry::new(Arc::new(MemoryStore::new()), clock.clone());
    let now = Timestamp::from_unix_secs(1_800_000_000);
    for entry in shipped().identity {
        let new = entry.to_new_identity(now);
        let mut record = if entry.discovered {
            registry.import(new).await
        } else {
            registry.provision(new).await
        }
        .unwrap_or_else(|e| panic!("{}: {e}", entry.id));
        for approval in &entry.approvals {
            record = registry
                .approve(&entry.id, &approval.approver, approval.role)
                .await
                .unwrap();
        }
        assert_eq!(record.state, LifecycleState::Active, "{}", entry.id);
    }
}

#[test]
fn a_malformed_inventory_names_the_line() {
    let text = "teams = [\"sre\"]\n\n[[identity]]\nid = \"ok-agent\"\nkind = \"robot\"\n";
    let error = Inventory::parse(text).unwrap_err();
    assert!(matches!(error, InventoryError::Malformed { .. }));
    let message = error.to_string();
    assert!(message.contains("line 5"), "{message}");
    assert!(
        message.contains("ai-agent"),
        "the message lists the valid kinds: {message}"
    );
}

#[test]
fn unknown_fields_bad_ids_and_bad_durations_are_refused() {
    let base = "teams = []\n[[identity]]\nid = \"a\"\nkind = \"bot\"\nenvironment = \"production\"\ntenant = \"acme\"\ncredential = { kind = \"jwt\", lifetime = \"5m\" }\nrisk_tier = \"low\"\n";
    assert!(Inventory::parse(&format!("{base}rotation_interval = \"30d\"\n")).is_ok());
    let typo = Inventory::parse(&format!(
        "{base}rotation_interval = \"30d\"\nexpire_in = \"3d\"\n"
    ))
    .unwrap_err();
    assert!(typo.to_string().contains("expire_in"), "{typo}");
    let duration =
        Inventory::parse(&format!("{base}rotation_interval = \"a month\"\n")).unwrap_err();
    assert!(duration.to_string().contains("line 9"), "{duration}");
    let id = Inventory::parse(&base.replace("id = \"a\"", "id = \"Bad Id\"")).unwrap_err();
    assert!(id.to_string().contains("Bad Id"), "{id}");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let error = Inventory::load(Path::new("no/such/inventory.toml")).unwrap_err();
    assert!(matches!(error, InventoryError::Read { .. }), "{error}");
}

#[test]
fn contradictory_or_absurd_entries_are_refused() {
    let base = "teams = []\n[[identity]]\nid = \"a\"\nkind = \"bot\"\nenvironment = \"production\"\ntenant = \"acme\"\ncredential = { kind = \"jwt\", lifetime = \"5m\" }\nrisk_tier = \"low\"\nrotation_interval = \"30d\"\n";
    let both = Inventory::parse(&format!(
        "{base}expires_in = \"120d\"\nexpired_ago = \"3d\"\n"
    ))
    .unwrap_err();
    assert!(matches!(both, InventoryError::Invalid { .. }), "{both}");
    let huge = Inventory::parse(&format!("{base}last_used_ago = \"9999999999y\"\n")).unwrap_err();
    assert!(huge.to_string().contains("hundred years"), "{huge}");
    let twice =
        Inventory::parse(&format!("{base}{}", base.replace("teams = []\n", ""))).unwrap_err();
    assert!(twice.to_string().contains("twice"), "{twice}");
}

//! Setting the stage: loading the files, checking them, building the control plane,
//! and the timeline the acts print to.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nhi::audit::{
    CheckpointKey, CheckpointStore, FileCheckpointStore, FileSinkOptions, JsonlFileSink,
    verify_chain, verify_log,
};
use nhi::core::{Clock, IdentityId, IncidentId, SharedClock, Timestamp};
use nhi::credentials::{JwtConfig, JwtProvider, KeyRing, MemoryRevocationList};
use nhi::limiter::{Limiter, QuotaPlan};
use nhi::policy::RuleSet;
use nhi::registry::{IdentityStore, LifecycleState, MemoryStore, Page, Registry};
use nhi::{AccessOutcome, ActionReport, ControlPlane};
use nhi_examples::inventory::Inventory;
use nhi_registry_sqlite::SqliteStore;

use crate::Options;
use crate::acts;
use crate::clock::StoryClock;

pub(crate) type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Plays the whole story.
pub(crate) async fn run(options: &Options) -> Result {
    // every file is read and checked before anything is written
    let inventory = Inventory::load(&options.data.join("inventory.toml"))?;
    let policy = RuleSet::from_file(options.data.join("policy.toml"))?;
    let plan = load_quotas(&options.data.join("quotas.toml"))?;
    let story_clock = Arc::new(StoryClock::default());
    let clock: SharedClock = story_clock.clone();
    preflight(&inventory, &clock).await?;

    let db_path = options.state.join("registry.db");
    let audit_path = options.state.join("audit.jsonl");
    let checkpoints_path = options.state.join("checkpoints.jsonl");
    prepare_state(&options.state, &db_path, &audit_path, &checkpoints_path).await?;

    // the audit log signs a checkpoint of its size and head every 50 records, into a
    // store that in production lives on another system than the log
    let (checkpoint_key, _pkcs8) = CheckpointKey::generate()?;
    let checkpoint_key = Arc::new(checkpoint_key);
    let checkpoints = Arc::new(FileCheckpointStore::open(&checkpoints_path)?);
    let options = FileSinkOptions::new(&audit_path)
        .clock(clock.clone())
        .checkpoints(
            checkpoint_key.clone(),
            checkpoints.clone(),
            50,
            std::time::Duration::from_secs(60),
        );
    let audit = Arc::new(JsonlFileSink::open_with(options).await?);

    // the control plane: SQLite registry, Ed25519 tokens, TOML policy, layered limits,
    // hash-chained audit
    let revocations = Arc::new(MemoryRevocationList::new());
    let issuer = JwtConfig::new("https://nhi.acme.example", "acme-platform");
    let keys = Arc::new(KeyRing::generate()?);
    let tokens = JwtProvider::new(issuer, keys, revocations.clone(), clock.clone())?;
    let registry = Registry::new(Arc::new(SqliteStore::open(&db_path)?), clock.clone());
    let plane = ControlPlane::builder(clock.clone())
        .registry(registry)
        .provider(Arc::new(tokens))
        .revocations(revocations)
        .policy(Arc::new(policy))
        .limiter(Arc::new(Limiter::new(plan, clock.clone())))
        .audit(audit.clone())
        .build()?;

    let t = Timeline {
        start: clock.now(),
        clock: clock.clone(),
    };
    let stage = acts::Stage {
        plane: &plane,
        inventory: &inventory,
        story: &story_clock,
        t: &t,
    };
    let agent = IdentityId::new("restart-agent")?;
    let incident = IncidentId::new("INC-4821")?;
    acts::provision(&stage).await?;
    let token = acts::incident(&stage, &agent, &incident).await?;
    acts::runaway(&stage, &agent, &incident, &token).await?;
    acts::rotation(&stage, &agent).await?;
    acts::decommission(&stage, &IdentityId::new("legacy-billing-sync")?).await?;
    acts::reconcile(&stage).await?;

    t.heading("Program metrics");
    print!("{}", plane.metrics().await?);

    t.heading("Audit trail");
    audit.checkpoint_now().await?;
    let report = verify_log(
        &audit_path,
        &checkpoints.load()?,
        &checkpoint_key.public_key(),
    )?;
    println!(
        "  {} records in {}",
        report.records,
        shown(&audit_path).display()
    );
    println!(
        "  hash chain and {} signed checkpoints verified; head {}",
        report.checkpoints_matched, report.head
    );
    if !report.is_intact() {
        return Err(format!("the audit log is damaged: {:?}", report.findings).into());
    }
    Ok(())
}

fn load_quotas(path: &Path) -> Result<QuotaPlan> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read quotas `{}`: {e}", path.display()))?;
    let plan =
        QuotaPlan::from_toml_str(&text).map_err(|e| format!("quotas `{}`: {e}", path.display()))?;
    Ok(plan)
}

/// Provisions the whole inventory into a throwaway in-memory registry, so that a
/// mistake in the file stops the run before any state is written.
async fn preflight(inventory: &Inventory, clock: &SharedClock) -> Result {
    let registry = Registry::new(Arc::new(MemoryStore::new()), clock.clone());
    let now = clock.now();
    for entry in &inventory.identity {
        let new = entry.to_new_identity(now);
        let mut checked = if entry.discovered {
            registry.import(new).await.map(drop)
        } else {
            registry.provision(new).await.map(drop)
        };
        for approval in &entry.approvals {
            if checked.is_ok() {
                let approved = registry.approve(&entry.id, &approval.approver, approval.role);
                checked = approved.await.map(drop);
            }
        }
        if let Err(error) = checked {
            return Err(format!("inventory entry `{}`: {error}", entry.id).into());
        }
    }
    Ok(())
}

/// Shows what the previous run left (the registry survives restarts), then starts afresh.
async fn prepare_state(dir: &Path, db: &Path, audit: &Path, checkpoints: &Path) -> Result {
    if dir.exists() && !dir.is_dir() {
        return Err(format!("`--state` must be a folder; `{}` is a file", dir.display()).into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;

    if db.exists() {
        let records = SqliteStore::open(db)?
            .list(&Page {
                after: None,
                limit: 10_000,
            })
            .await?;
        let tombstoned = records
            .iter()
            .filter(|r| r.state == LifecycleState::Tombstoned)
            .count();
        let count = records.len();
        println!(
            "The previous run left {count} identities in its registry ({tombstoned} tombstoned)."
        );
    }
    if audit.exists() {
        keep_if_damaged(audit)?;
    }
    if db.exists() || audit.exists() {
        println!(
            "Replacing registry.db and audit.jsonl in {} with a new estate.",
            shown(dir).display()
        );
    }
    let wal = [db.with_extension("db-wal"), db.with_extension("db-shm")];
    let files = [
        db.to_path_buf(),
        audit.to_path_buf(),
        checkpoints.to_path_buf(),
    ];
    for path in files.into_iter().chain(wal) {
        if path.exists() {
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove `{}`: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// A previous audit log whose chain does not hold is evidence: it is moved aside, not
/// replaced.
fn keep_if_damaged(audit: &Path) -> Result {
    let Err(error) = verify_chain(audit) else {
        return Ok(());
    };
    let kept = audit.with_extension("jsonl.damaged");
    std::fs::rename(audit, &kept)
        .map_err(|e| format!("cannot move `{}` aside: {e}", audit.display()))?;
    println!(
        "The previous audit log does not verify ({error}); kept as {}.",
        shown(&kept).display()
    );
    Ok(())
}

/// A path relative to the working folder when it lies inside it.
fn shown(path: &Path) -> PathBuf {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    relative.unwrap_or_else(|| path.to_path_buf())
}

/// Prints events with the story time elapsed since the start.
pub(crate) struct Timeline {
    start: Timestamp,
    pub(crate) clock: SharedClock,
}

impl Timeline {
    pub(crate) fn heading(&self, title: &str) {
        println!("\n== {title}");
    }

    pub(crate) fn say(&self, line: &str) {
        let elapsed = self.clock.now().duration_since(self.start).as_secs();
        let (h, m, s) = (elapsed / 3600, elapsed / 60 % 60, elapsed % 60);
        println!("[+{h:02}:{m:02}:{s:02}] {line}");
    }

    /// Prints what an outcome means, completing the permit with `done` when granted.
    pub(crate) async fn report(
        &self,
        what: &str,
        outcome: AccessOutcome,
        done: ActionReport,
    ) -> Result {
        match outcome {
            AccessOutcome::Granted(permit) => {
                let rule = permit.rule_id.clone().unwrap_or_default();
                let approval = match &permit.approval {
                    Some(grant) => format!(", using {}'s approval", grant.approver),
                    None => String::new(),
                };
                self.say(&format!(
                    "{what}: granted by `{rule}`{approval}; {}",
                    done.result
                ));
                permit.complete(done).await?;
            }
            AccessOutcome::Denied(denial) => self.say(&format!("{what}: {denial}")),
        }
        Ok(())
    }
}

/// One word for an outcome, completing the permit with `result` when granted.
pub(crate) async fn verdict(outcome: AccessOutcome, result: &str) -> Result<String> {
    Ok(match outcome {
        AccessOutcome::Granted(permit) => {
            permit.complete(ActionReport::new(result)).await?;
            "works".to_owned()
        }
        AccessOutcome::Denied(denial) => format!("refused ({})", denial.reason),
    })
}

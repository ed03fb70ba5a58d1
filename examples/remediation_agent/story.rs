//! The incident, act by act.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use nhi::audit::{JsonlFileSink, verify_chain};
use nhi::core::{
    Action, Clock, IdentityId, IncidentId, Resource, Severity, SharedClock, Timestamp,
};
use nhi::credentials::{
    CredentialSecret, IssuedCredential, JwtConfig, JwtProvider, KeyRing, MemoryRevocationList,
};
use nhi::limiter::{Limiter, QuotaPlan};
use nhi::policy::{ApprovalScope, RuleSet};
use nhi::registry::{ApproverRole, IdentityStore, Page, ReconcileMode, ReconcilePolicy, Registry};
use nhi::{AccessOutcome, AccessRequest, ActionReport, ApprovalGrant, ControlPlane};
use nhi_registry_sqlite::SqliteStore;

use crate::Options;
use crate::clock::StoryClock;
use nhi_examples::inventory::Inventory;

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// Plays the whole story.
pub(crate) async fn run(options: &Options) -> Result {
    let inventory = Inventory::load(&options.data.join("inventory.toml"))?;
    let policy = RuleSet::from_file(options.data.join("policy.toml"))?;
    let quotas_path = options.data.join("quotas.toml");
    let quotas = std::fs::read_to_string(&quotas_path)
        .map_err(|e| format!("cannot read quotas `{}`: {e}", quotas_path.display()))?;
    let plan = QuotaPlan::from_toml_str(&quotas)
        .map_err(|e| format!("quotas `{}`: {e}", quotas_path.display()))?;

    let story_clock = Arc::new(StoryClock::default());
    let clock: SharedClock = story_clock.clone();
    let t = Timeline {
        start: clock.now(),
        clock: clock.clone(),
    };
    let db_path = options.state.join("registry.db");
    let audit_path = options.state.join("audit.jsonl");
    prepare_state(&options.state, &db_path, &audit_path).await?;

    // the control plane: SQLite registry, Ed25519 tokens, TOML policy, layered limits, chained audit
    let revocations = Arc::new(MemoryRevocationList::new());
    let keys = Arc::new(KeyRing::generate()?);
    let tokens = JwtProvider::new(
        JwtConfig::new("https://nhi.acme.example", "acme-platform"),
        keys,
        revocations.clone(),
        clock.clone(),
    )?;
    let registry = Registry::new(Arc::new(SqliteStore::open(&db_path)?), clock.clone());
    let plane = ControlPlane::builder(clock.clone())
        .registry(registry)
        .provider(Arc::new(tokens))
        .revocations(revocations)
        .policy(Arc::new(policy))
        .limiter(Arc::new(Limiter::new(plan, clock.clone())))
        .audit(Arc::new(JsonlFileSink::open(&audit_path).await?))
        .build()?;

    act_provision(&plane, &inventory, &t).await?;
    let incident = IncidentId::new("INC-4821")?;
    let agent = IdentityId::new("restart-agent")?;
    let token = act_incident(&plane, &agent, &incident, &t).await?;
    act_runaway(&plane, &agent, &incident, &token, &t).await?;
    act_rotation(&plane, &agent, &story_clock, &t).await?;
    act_decommission(&plane, &inventory, &t).await?;
    act_reconcile(&plane, &inventory, &t).await?;

    t.heading("Program metrics");
    print!("{}", plane.metrics().await?);

    t.heading("Audit trail");
    let summary = verify_chain(&audit_path)?;
    let shown = std::env::current_dir().ok().and_then(|cwd| {
        audit_path
            .strip_prefix(cwd)
            .ok()
            .map(std::path::Path::to_path_buf)
    });
    println!(
        "  {} records in {}",
        summary.records,
        shown.unwrap_or(audit_path.clone()).display()
    );
    println!("  hash chain verified; head {}", summary.head);
    Ok(())
}

/// Shows what the previous run left (the registry survives restarts), then starts afresh.
async fn prepare_state(
    dir: &std::path::Path,
    db: &std::path::Path,
    audit: &std::path::Path,
) -> Result {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    if db.exists() {
        let previous = SqliteStore::open(db)?;
        let records = previous
            .list(&Page {
                after: None,
                limit: 1000,
            })
            .await?;
        let tombstoned = records
            .iter()
            .filter(|r| r.state == nhi::registry::LifecycleState::Tombstoned)
            .count();
        println!(
            "The previous run left {} identities in its registry ({tombstoned} tombstoned); starting a new estate.",
            records.len()
        );
    }
    for path in [
        db.to_path_buf(),
        db.with_extension("db-wal"),
        db.with_extension("db-shm"),
        audit.to_path_buf(),
    ] {
        if path.exists() {
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove `{}`: {e}", path.display()))?;
        }
    }
    Ok(())
}

async fn act_provision(plane: &ControlPlane, inventory: &Inventory, t: &Timeline) -> Result {
    t.heading("Provisioning the estate");
    let now = t.clock.now();
    for entry in &inventory.identity {
        let new = entry.to_new_identity(now);
        let record = if entry.discovered {
            plane.import(new).await?
        } else {
            plane.provision(new).await?
        };
        let mut record = record;
        for approval in &entry.approvals {
            record = plane
                .approve(&entry.id, &approval.approver, approval.role)
                .await?;
        }
        let owner = record
            .owner
            .as_ref()
            .map_or("(no owner)".to_owned(), |o| o.team.to_string());
        let how = if entry.discovered {
            "imported"
        } else {
            "provisioned"
        };
        let approvals = if entry.approvals.is_empty() {
            String::new()
        } else {
            format!(", approved by {}", names(&entry.approvals))
        };
        t.say(&format!(
            "{how} {:<20} {:<11} team {:<10} tenant {:<8} {:<8} -> {}{approvals}",
            record.id.as_str(),
            record.kind.as_str(),
            owner,
            record.tenant.as_str(),
            record.risk_tier.as_str(),
            record.state
        ));
    }
    Ok(())
}

fn names(approvals: &[nhi_examples::inventory::EntryApproval]) -> String {
    approvals
        .iter()
        .map(|a| format!("{} ({})", a.approver, role(a.role)))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn role(role: ApproverRole) -> &'static str {
    match role {
        ApproverRole::Owner => "owner",
        _ => "security",
    }
}

async fn act_incident(
    plane: &ControlPlane,
    agent: &IdentityId,
    incident: &IncidentId,
    t: &Timeline,
) -> Result<IssuedCredential> {
    t.heading("Incident INC-4821: payments-api is failing its health checks");
    let token = plane.issue_credential(agent).await?;
    t.say(&format!(
        "{agent} gets credential {} (JWT, expires {})",
        token.credential_id, token.expires_at
    ));

    let api: Resource = "k8s:prod/payments/api".parse()?;
    let health = Action::new("health.read")?;
    let restart = Action::new("deployment.restart")?;
    let ask = |action: &Action, resource: &Resource, severity| {
        AccessRequest::new(&token.secret, action.clone(), resource.clone(), severity)
            .incident(incident.clone())
            .trigger("alert: payments-api readiness below 50%")
    };

    let outcome = plane.authorize(ask(&health, &api, Severity::Read)).await?;
    report(
        t,
        "reads payments-api health",
        outcome,
        ActionReport::new("3 pods, 0 ready"),
    )
    .await?;

    let outside = AccessRequest::new(
        &token.secret,
        restart.clone(),
        api.clone(),
        Severity::Destructive,
    )
    .trigger("agent plan: restart payments-api to be safe");
    let outcome = plane.authorize(outside).await?;
    report(
        t,
        "asks to restart payments-api without naming the incident",
        outcome,
        ActionReport::default(),
    )
    .await?;

    let outcome = plane
        .authorize(ask(&restart, &api, Severity::Destructive))
        .await?;
    report(
        t,
        "asks to restart payments-api",
        outcome,
        ActionReport::default(),
    )
    .await?;

    let grant = ApprovalGrant {
        identity: agent.clone(),
        action: restart.clone(),
        resource: api.clone(),
        incident: Some(incident.clone()),
        approver: "priya.nair (sre-oncall)".into(),
        scope: ApprovalScope::OncePerIncident,
        expires_at: t.clock.now().saturating_add(Duration::from_secs(3600)),
    };
    plane.grant_approval(grant).await?;
    t.say("priya.nair (sre-oncall) approves one restart of payments-api for INC-4821");

    let done = ActionReport::new("restarted").change(
        serde_json::json!({ "ready": "0/3" }),
        serde_json::json!({ "ready": "3/3" }),
    );
    let outcome = plane
        .authorize(ask(&restart, &api, Severity::Destructive))
        .await?;
    report(t, "restarts payments-api", outcome, done).await?;

    let outcome = plane
        .authorize(ask(&restart, &api, Severity::Destructive))
        .await?;
    report(
        t,
        "asks for a second restart",
        outcome,
        ActionReport::default(),
    )
    .await?;

    let mut forged = token.secret.expose_secret().to_owned();
    forged.insert(forged.len() / 2, 'x');
    let forged = CredentialSecret::new(forged);
    let outcome = plane
        .authorize(AccessRequest::new(
            &forged,
            health.clone(),
            api.clone(),
            Severity::Read,
        ))
        .await?;
    report(
        t,
        "someone presents a tampered copy of the token",
        outcome,
        ActionReport::default(),
    )
    .await?;
    Ok(token)
}

async fn act_runaway(
    plane: &ControlPlane,
    agent: &IdentityId,
    incident: &IncidentId,
    token: &IssuedCredential,
    t: &Timeline,
) -> Result {
    t.heading("The agent's health-check loop runs away");
    let api: Resource = "k8s:prod/payments/api".parse()?;
    let health = Action::new("health.read")?;
    let (mut granted, mut limited, mut refused) = (0, 0, 0);
    for call in 1..=200 {
        let request =
            AccessRequest::new(&token.secret, health.clone(), api.clone(), Severity::Read)
                .incident(incident.clone());
        match plane.authorize(request).await? {
            AccessOutcome::Granted(permit) => {
                granted += 1;
                permit.complete(ActionReport::new("0 ready")).await?;
            }
            AccessOutcome::Denied(denial) if denial.kill_switch => {
                limited += 1;
                t.say(&format!("call {call}: {denial}"));
                t.say(&format!(
                    "{agent} is suspended and its credentials are dead"
                ));
            }
            AccessOutcome::Denied(denial) if denial.stage == nhi::Stage::Limit => limited += 1,
            AccessOutcome::Denied(denial) => {
                if refused == 0 {
                    t.say(&format!("call {call}, same unexpired token: {denial}"));
                }
                refused += 1;
            }
        }
    }
    t.say(&format!("200 calls: {granted} granted, {limited} rate limited, {refused} refused after the kill switch"));
    Ok(())
}

async fn act_rotation(
    plane: &ControlPlane,
    agent: &IdentityId,
    story: &StoryClock,
    t: &Timeline,
) -> Result {
    t.heading("Review, reinstatement and credential rotation");
    story.skip(Duration::from_secs(15 * 60));
    plane
        .reinstate(
            agent,
            "loop fixed in agent release 2.4.1, reviewed by maria.lopez",
        )
        .await?;
    t.say(&format!(
        "{agent} reinstated after review; its old credentials stay dead"
    ));

    let api: Resource = "k8s:prod/payments/api".parse()?;
    let health = Action::new("health.read")?;
    let first = plane.issue_credential(agent).await?;
    t.say(&format!("{agent} gets credential {}", first.credential_id));

    story.skip(Duration::from_secs(150));
    let second = plane
        .rotate_credential(agent, Duration::from_secs(60))
        .await?;
    t.say(&format!(
        "half its lifetime gone: rotated to {} with a 60s overlap",
        second.credential_id
    ));
    let (old, new) = (
        check(plane, &first.secret, &health, &api).await?,
        check(plane, &second.secret, &health, &api).await?,
    );
    t.say(&format!(
        "during the overlap: old {}, new {}",
        verdict(old).await?,
        verdict(new).await?
    ));

    story.skip(Duration::from_secs(61));
    let (old, new) = (
        check(plane, &first.secret, &health, &api).await?,
        check(plane, &second.secret, &health, &api).await?,
    );
    t.say(&format!(
        "after the overlap:  old {}, new {}",
        verdict(old).await?,
        verdict(new).await?
    ));
    Ok(())
}

async fn check(
    plane: &ControlPlane,
    secret: &CredentialSecret,
    action: &Action,
    resource: &Resource,
) -> Result<AccessOutcome> {
    let request = AccessRequest::new(secret, action.clone(), resource.clone(), Severity::Read);
    Ok(plane.authorize(request).await?)
}

async fn verdict(outcome: AccessOutcome) -> Result<String> {
    Ok(match outcome {
        AccessOutcome::Granted(permit) => {
            permit.complete(ActionReport::new("3 ready")).await?;
            "works".to_owned()
        }
        AccessOutcome::Denied(denial) => format!("refused ({})", denial.reason),
    })
}

async fn act_decommission(plane: &ControlPlane, inventory: &Inventory, t: &Timeline) -> Result {
    t.heading("Decommissioning legacy-billing-sync");
    let id = IdentityId::new("legacy-billing-sync")?;
    let token = plane.issue_credential(&id).await?;
    let events: Resource = "billing:events/2026-12".parse()?;
    let event_read = Action::new("event.read")?;
    let read = || {
        AccessRequest::new(
            &token.secret,
            event_read.clone(),
            events.clone(),
            Severity::Read,
        )
    };
    t.say(&format!(
        "before: its token {}",
        verdict(plane.authorize(read()).await?).await?
    ));

    let stages = [
        "old billing system switched off (CHG-1193)",
        "its permissions removed from billing",
        "its audit evidence sealed for seven years",
        "its id retired for good",
    ];
    for reason in stages {
        let transition = plane.advance_decommission(&id, reason).await?;
        t.say(&format!(
            "{} -> {}: {reason}",
            transition.before.state, transition.after.state
        ));
        if transition.after.state == nhi::registry::LifecycleState::Disabled {
            t.say(&format!(
                "  the same token right away: {}",
                verdict(plane.authorize(read()).await?).await?
            ));
        }
    }

    let Some(entry) = inventory.identity.iter().find(|e| e.id == id) else {
        return Err("the inventory no longer lists legacy-billing-sync".into());
    };
    match plane.provision(entry.to_new_identity(t.clock.now())).await {
        Ok(_) => return Err("a tombstoned id was provisioned again".into()),
        Err(error) => t.say(&format!("provisioning it again is refused: {error}")),
    }
    Ok(())
}

async fn act_reconcile(plane: &ControlPlane, inventory: &Inventory, t: &Timeline) -> Result {
    t.heading("Reconciliation");
    let policy = ReconcilePolicy {
        unused_for: Duration::from_secs(90 * 86_400),
        mode: ReconcileMode::Quarantine,
        known_teams: Some(inventory.teams.clone()),
    };
    let report = plane.reconcile(&policy).await?;
    print!("{report}");
    Ok(())
}

/// Prints what an outcome means, and completes the permit with `done` when granted.
async fn report(t: &Timeline, what: &str, outcome: AccessOutcome, done: ActionReport) -> Result {
    match outcome {
        AccessOutcome::Granted(permit) => {
            let approval = permit
                .approval
                .as_ref()
                .map(|g| format!(", using {}'s approval", g.approver))
                .unwrap_or_default();
            let rule = permit.rule_id.clone().unwrap_or_default();
            t.say(&format!(
                "{what}: granted by `{rule}`{approval}; {}",
                done.result
            ));
            permit.complete(done).await?;
        }
        AccessOutcome::Denied(denial) => t.say(&format!("{what}: {denial}")),
    }
    Ok(())
}

/// Prints events with the story time elapsed since the start.
struct Timeline {
    start: Timestamp,
    clock: SharedClock,
}

impl Timeline {
    fn heading(&self, title: &str) {
        println!("\n== {title}");
    }

    fn say(&self, line: &str) {
        let elapsed = self.clock.now().duration_since(self.start).as_secs();
        println!(
            "[+{:02}:{:02}:{:02}] {line}",
            elapsed / 3600,
            elapsed / 60 % 60,
            elapsed % 60
        );
    }
}

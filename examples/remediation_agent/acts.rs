//! The incident, act by act.

use std::time::Duration;

use nhi::core::{Action, Clock, IdentityId, IncidentId, Resource, Severity};
use nhi::credentials::{CredentialSecret, IssuedCredential};
use nhi::policy::ApprovalScope;
use nhi::registry::{LifecycleState, ReconcileMode, ReconcilePolicy};
use nhi::{AccessOutcome, AccessRequest, ActionReport, ApprovalGrant, ControlPlane};
use nhi_examples::inventory::Inventory;
use serde_json::json;

use crate::clock::StoryClock;
use crate::story::{Result, Timeline, verdict};

/// What every act needs.
pub(crate) struct Stage<'a> {
    pub(crate) plane: &'a ControlPlane,
    pub(crate) inventory: &'a Inventory,
    pub(crate) story: &'a StoryClock,
    pub(crate) t: &'a Timeline,
}

const PAYMENTS_API: &str = "k8s:prod/payments/api";

/// Act 1: every identity of the inventory enters the registry.
pub(crate) async fn provision(s: &Stage<'_>) -> Result {
    s.t.heading("Provisioning the estate");
    let now = s.t.clock.now();
    for entry in &s.inventory.identity {
        let new = entry.to_new_identity(now);
        let mut record = if entry.discovered {
            s.plane.import(new).await?
        } else {
            s.plane.provision(new).await?
        };
        for approval in &entry.approvals {
            record = s
                .plane
                .approve(&entry.id, &approval.approver, approval.role)
                .await?;
        }

        let how = if entry.discovered {
            "imported"
        } else {
            "provisioned"
        };
        let owner = record
            .owner
            .as_ref()
            .map_or("(none)".to_owned(), |o| o.team.to_string());
        let approvals: Vec<String> = entry
            .approvals
            .iter()
            .map(|a| format!("{} ({})", a.approver, a.role))
            .collect();
        let approvals = if approvals.is_empty() {
            String::new()
        } else {
            format!(", approved by {}", approvals.join(" and "))
        };
        s.t.say(&format!(
            "{how:<11} {:<20} {:<11} team {:<9} tenant {:<8} {:<6} -> {}{approvals}",
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

/// Act 2: the restart agent works the incident, within policy and with an approval.
pub(crate) async fn incident(
    s: &Stage<'_>,
    agent: &IdentityId,
    incident: &IncidentId,
) -> Result<IssuedCredential> {
    let (plane, t) = (s.plane, s.t);
    t.heading("Incident INC-4821: payments-api is failing its health checks");
    let token = plane.issue_credential(agent).await?;
    t.say(&format!(
        "{agent} gets credential {} (a JWT, expires {})",
        token.credential_id, token.expires_at
    ));

    let api: Resource = PAYMENTS_API.parse()?;
    let health = Action::new("health.read")?;
    let restart = Action::new("deployment.restart")?;
    let ask = |action: &Action, severity| {
        AccessRequest::new(&token.secret, action.clone(), api.clone(), severity)
            .incident(incident.clone())
            .trigger("alert: payments-api readiness below 50%")
    };

    let outcome = plane.authorize(ask(&health, Severity::Read)).await?;
    t.report(
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
    t.report(
        "asks to restart payments-api without naming the incident",
        outcome,
        ActionReport::default(),
    )
    .await?;

    let outcome = plane
        .authorize(ask(&restart, Severity::Destructive))
        .await?;
    t.report(
        "asks to restart payments-api for INC-4821",
        outcome,
        ActionReport::default(),
    )
    .await?;

    let approver = "priya.nair (sre-oncall)";
    plane
        .grant_approval(ApprovalGrant {
            identity: agent.clone(),
            action: restart.clone(),
            resource: api.clone(),
            incident: Some(incident.clone()),
            approver: approver.into(),
            scope: ApprovalScope::OncePerIncident,
            expires_at: t.clock.now().saturating_add(Duration::from_secs(3600)),
        })
        .await?;
    t.say(&format!(
        "{approver} approves one restart of payments-api for INC-4821"
    ));

    let done =
        ActionReport::new("restarted").change(json!({ "ready": "0/3" }), json!({ "ready": "3/3" }));
    let outcome = plane
        .authorize(ask(&restart, Severity::Destructive))
        .await?;
    t.report("restarts payments-api", outcome, done).await?;

    let outcome = plane
        .authorize(ask(&restart, Severity::Destructive))
        .await?;
    t.report(
        "asks for a second restart",
        outcome,
        ActionReport::default(),
    )
    .await?;

    let mut forged = token.secret.expose_secret().to_owned();
    forged.insert(forged.len() / 2, 'x');
    let forged = CredentialSecret::new(forged);
    let request = AccessRequest::new(&forged, health.clone(), api.clone(), Severity::Read);
    let outcome = plane.authorize(request).await?;
    t.report(
        "someone presents a tampered copy of the token",
        outcome,
        ActionReport::default(),
    )
    .await?;
    Ok(token)
}

/// Act 3: a broken loop hammers the health endpoint until the kill switch stops it.
pub(crate) async fn runaway(
    s: &Stage<'_>,
    agent: &IdentityId,
    incident: &IncidentId,
    token: &IssuedCredential,
) -> Result {
    let (plane, t) = (s.plane, s.t);
    t.heading("The agent's health-check loop runs away");
    let api: Resource = PAYMENTS_API.parse()?;
    let health = Action::new("health.read")?;

    let (mut granted, mut limited, mut refused, mut after_switch) = (0, 0, 0, 0);
    let mut tripped = false;
    for call in 1..=200 {
        let request =
            AccessRequest::new(&token.secret, health.clone(), api.clone(), Severity::Read)
                .incident(incident.clone());
        let denial = match plane.authorize(request).await? {
            AccessOutcome::Granted(permit) => {
                granted += 1;
                permit.complete(ActionReport::new("0 ready")).await?;
                continue;
            }
            AccessOutcome::Denied(denial) => denial,
        };
        match denial.stage {
            nhi::Stage::Limit => limited += 1,
            _ if tripped => after_switch += 1,
            _ => refused += 1,
        }
        if denial.kill_switch {
            tripped = true;
            t.say(&format!("call {call}: {denial}"));
            t.say(&format!(
                "{agent} is suspended and its credentials are dead"
            ));
        } else if tripped && after_switch == 1 && denial.stage != nhi::Stage::Limit {
            t.say(&format!("call {call}, the same unexpired token: {denial}"));
        }
    }
    t.say(&format!(
        "200 calls: {granted} granted, {limited} rate limited, {refused} refused otherwise, \
         {after_switch} refused after the kill switch"
    ));
    Ok(())
}

/// Act 4: after review the agent is reinstated and its credential rotated with overlap.
pub(crate) async fn rotation(s: &Stage<'_>, agent: &IdentityId) -> Result {
    let (plane, t) = (s.plane, s.t);
    t.heading("Review, reinstatement and credential rotation");
    s.story.skip(Duration::from_secs(15 * 60));
    if plane.registry().get(agent).await?.state == LifecycleState::Suspended {
        plane
            .reinstate(
                agent,
                "loop fixed in agent release 2.4.1, reviewed by maria.lopez",
            )
            .await?;
        t.say(&format!(
            "{agent} reinstated after review; its old credentials stay dead"
        ));
    } else {
        t.say(&format!(
            "{agent} was never suspended, so there is nothing to reinstate"
        ));
    }

    let api: Resource = PAYMENTS_API.parse()?;
    let health = Action::new("health.read")?;
    let first = plane.issue_credential(agent).await?;
    t.say(&format!(
        "{agent} gets credential {} (expires {})",
        first.credential_id, first.expires_at
    ));

    s.story.skip(Duration::from_secs(150));
    let second = plane
        .rotate_credential(agent, Duration::from_secs(60))
        .await?;
    t.say(&format!(
        "half its lifetime gone: rotated to {} (expires {}) with a 60s overlap",
        second.credential_id, second.expires_at
    ));
    let old = verdict(check(plane, &first.secret, &health, &api).await?, "3 ready").await?;
    let new = verdict(
        check(plane, &second.secret, &health, &api).await?,
        "3 ready",
    )
    .await?;
    t.say(&format!("during the overlap: old {old}, new {new}"));

    s.story.skip(Duration::from_secs(61));
    let old = verdict(check(plane, &first.secret, &health, &api).await?, "3 ready").await?;
    let new = verdict(
        check(plane, &second.secret, &health, &api).await?,
        "3 ready",
    )
    .await?;
    t.say(&format!("after the overlap:  old {old}, new {new}"));
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

/// Act 5: a legacy integration is decommissioned stage by stage.
pub(crate) async fn decommission(s: &Stage<'_>, id: &IdentityId) -> Result {
    let (plane, t) = (s.plane, s.t);
    t.heading(&format!("Decommissioning {id}"));
    let token = plane.issue_credential(id).await?;
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
        verdict(plane.authorize(read()).await?, "42 events read").await?
    ));

    let stages = [
        "old billing system switched off (CHG-1193)",
        "its permissions removed from billing",
        "its audit evidence sealed for seven years",
        "its id retired for good",
    ];
    for reason in stages {
        let transition = plane.advance_decommission(id, reason).await?;
        t.say(&format!(
            "{} -> {}: {reason}",
            transition.before.state, transition.after.state
        ));
        if transition.after.state == LifecycleState::Disabled {
            let outcome = plane.authorize(read()).await?;
            t.say(&format!(
                "  the same token right away: {}",
                verdict(outcome, "42 events read").await?
            ));
        }
    }

    let Some(entry) = s.inventory.identity.iter().find(|e| &e.id == id) else {
        return Err(format!("the inventory no longer lists {id}").into());
    };
    match plane.provision(entry.to_new_identity(t.clock.now())).await {
        Ok(_) => Err("a tombstoned id was provisioned again".into()),
        Err(error) => {
            t.say(&format!("provisioning it again is refused: {error}"));
            Ok(())
        }
    }
}

/// Act 6: reconciliation quarantines what nobody owns, uses or renewed.
pub(crate) async fn reconcile(s: &Stage<'_>) -> Result {
    s.t.heading("Reconciliation");
    let policy = ReconcilePolicy {
        unused_for: Duration::from_secs(90 * 86_400),
        mode: ReconcileMode::Quarantine,
        known_teams: Some(s.inventory.teams.clone()),
    };
    let report = s.plane.reconcile(&policy).await?;
    print!("{report}");
    Ok(())
}

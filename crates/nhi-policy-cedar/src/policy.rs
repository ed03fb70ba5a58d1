//! [`CedarPolicy`]: a Cedar policy set read with the annotations that map it onto the
//! nhi decision model.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{Authorizer, Effect as CedarEffect, Policy, PolicyId, PolicySet};
use nhi_policy::{ApprovalRequirement, ApprovalScope, Effect};

use crate::error::CedarPolicyError;

/// The largest policy file accepted, in bytes.
const MAX_FILE_LEN: u64 = 8 * 1024 * 1024;

/// A Cedar policy set that answers the [`PolicyEngine`](nhi_policy::PolicyEngine) trait.
///
/// Every policy carries `@id("...")`, which becomes its rule id in decisions, and may
/// carry `@reason("...")`, the words shown to the caller. A `forbid` with
/// `@approval("sre-oncall")` (approvers separated by commas) means "require approval"
/// rather than "deny"; `@scope("once-per-incident")` sets how long the approval holds
/// (`once` when absent).
#[derive(Debug)]
pub struct CedarPolicy {
    pub(crate) policies: PolicySet,
    pub(crate) rules: HashMap<PolicyId, RuleInfo>,
    pub(crate) authorizer: Authorizer,
}

/// What a policy means in the nhi model.
#[derive(Debug, Clone)]
pub(crate) struct RuleInfo {
    pub(crate) id: Arc<str>,
    pub(crate) effect: Effect,
    pub(crate) reason: Arc<str>,
    pub(crate) approval: Option<Arc<ApprovalRequirement>>,
}

impl CedarPolicy {
    /// Reads Cedar policy text.
    ///
    /// # Errors
    ///
    /// [`CedarPolicyError::Parse`] for text Cedar refuses (with its line and column),
    /// [`CedarPolicyError::Annotation`] for a policy without a valid, unique `@id`, a
    /// template, or an `@approval` on a `permit`.
    pub fn from_cedar_str(text: &str) -> Result<Self, CedarPolicyError> {
        load(text, None)
    }

    /// Reads a Cedar policy file; errors name the file.
    ///
    /// # Errors
    ///
    /// [`CedarPolicyError::Read`] when the file cannot be read or is larger than 8 MiB,
    /// and the errors of [`from_cedar_str`](Self::from_cedar_str).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, CedarPolicyError> {
        let path = path.as_ref();
        let read = |source| CedarPolicyError::Read {
            path: path.to_owned(),
            source,
        };
        let len = fs::metadata(path).map_err(read)?.len();
        if len > MAX_FILE_LEN {
            let too_big = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the file is larger than 8 MiB",
            );
            return Err(read(too_big));
        }
        let text = fs::read_to_string(path).map_err(read)?;
        load(&text, Some(path))
    }

    /// How many policies there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no policies (so every request is denied).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule ids, in no particular order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.values().map(|rule| &*rule.id)
    }
}

/// Parses the text, then renames every policy to its `@id` and reads its annotations.
fn load(text: &str, file: Option<&Path>) -> Result<CedarPolicy, CedarPolicyError> {
    let parsed = PolicySet::from_str(text).map_err(|errors| parse_error(text, file, &errors))?;
    let annotation = |position: usize, message: String| CedarPolicyError::Annotation {
        file: file.map(Path::to_owned),
        position,
        message,
    };
    if parsed.templates().next().is_some() {
        return Err(annotation(
            1,
            "templates (policies with `?principal` or `?resource`) are not supported: \
             write each policy out"
                .into(),
        ));
    }

    let mut ordered: Vec<&Policy> = parsed.policies().collect();
    ordered.sort_by_key(|policy| policy_number(policy.id()));
    let mut policies = PolicySet::new();
    let mut rules = HashMap::new();
    for (index, policy) in ordered.into_iter().enumerate() {
        let position = index + 1;
        let info = rule_info(policy).map_err(|message| annotation(position, message))?;
        let id = PolicyId::new(&*info.id);
        if rules.contains_key(&id) {
            let message = format!(
                "`@id(\"{}\")` is used twice: give each policy its own",
                info.id
            );
            return Err(annotation(position, message));
        }
        policies
            .add(policy.new_id(id.clone()))
            .map_err(|err| annotation(position, err.to_string()))?;
        rules.insert(id, info);
    }
    Ok(CedarPolicy {
        policies,
        rules,
        authorizer: Authorizer::new(),
    })
}

/// Reads `@id`, `@reason`, `@approval` and `@scope`.
fn rule_info(policy: &Policy) -> Result<RuleInfo, String> {
    let id = policy
        .annotation("id")
        .ok_or("it has no `@id(\"...\")` annotation: give every policy a unique id")?;
    check_id(id)?;
    let approval = match (policy.annotation("approval"), policy.effect()) {
        (None, _) => None,
        (Some(_), CedarEffect::Permit) => {
            return Err(format!(
                "policy `{id}`: `@approval` marks a `forbid` that needs approval; a `permit` \
                 cannot carry it"
            ));
        }
        (Some(approvers), CedarEffect::Forbid) => {
            Some(approval(id, approvers, policy.annotation("scope"))?)
        }
    };
    let effect = match (policy.effect(), &approval) {
        (CedarEffect::Permit, _) => Effect::Allow,
        (CedarEffect::Forbid, None) => Effect::Deny,
        (CedarEffect::Forbid, Some(_)) => Effect::RequireApproval,
    };
    let reason = match policy.annotation("reason") {
        Some(reason) if !reason.trim().is_empty() => reason.to_owned(),
        _ => default_reason(effect).to_owned(),
    };
    Ok(RuleInfo {
        id: Arc::from(id),
        effect,
        reason: Arc::from(reason),
        approval: approval.map(Arc::new),
    })
}

fn approval(id: &str, approvers: &str, scope: Option<&str>) -> Result<ApprovalRequirement, String> {
    let approvers: Vec<String> = approvers
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if approvers.is_empty() {
        return Err(format!("policy `{id}`: `@approval` names no approver"));
    }
    let scope = match scope {
        None | Some("once") => ApprovalScope::Once,
        Some("once-per-incident") => ApprovalScope::OncePerIncident,
        Some(other) => {
            return Err(format!(
                "policy `{id}`: unknown `@scope(\"{other}\")`; use `once` or `once-per-incident`"
            ));
        }
    };
    Ok(ApprovalRequirement { approvers, scope })
}

fn default_reason(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "a policy allows this action",
        Effect::Deny => "a policy forbids this action",
        Effect::RequireApproval => "a policy requires approval for this action",
    }
}

/// The same rule-id alphabet as the built-in engine, so ids mean the same in both.
fn check_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if id.is_empty() || id.len() > 128 || !id.chars().all(allowed) {
        return Err(format!(
            "`@id(\"{id}\")` is not a rule id: use 1 to 128 ASCII letters, digits, `-`, `_`, \
             `.` and `:`"
        ));
    }
    Ok(())
}

/// Cedar names parsed policies `policy0`, `policy1`, ...: their number is their position.
fn policy_number(id: &PolicyId) -> usize {
    let text = AsRef::<str>::as_ref(id);
    text.strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// A parse error with the line and column of Cedar's first label.
fn parse_error(
    text: &str,
    file: Option<&Path>,
    errors: &cedar_policy::ParseErrors,
) -> CedarPolicyError {
    use miette::Diagnostic;
    let offset = errors
        .labels()
        .and_then(|mut labels| labels.next())
        .map_or(0, |label| label.offset());
    let (line, column) = locate(text, offset);
    CedarPolicyError::Parse {
        file: file.map(Path::to_owned),
        line,
        column,
        message: errors.to_string(),
    }
}

/// The line and column (both from 1, the column in characters) of a byte offset.
fn locate(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

//! What is asked of a limiter ([`LimitRequest`]) and what it answers ([`LimitDecision`]).

use std::time::Duration;

use nhi_core::Severity;

use crate::breach::Breach;
use crate::quota::Layer;

/// One request to be charged: who makes it, where, and how severe it is.
///
/// Only the identity is required; each other key, when given, is charged to its
/// layer's bucket if the plan limits that layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRequest<'a> {
    /// The identity making the request; charged to the identity layer.
    pub identity: &'a str,
    /// The workflow it runs in, if any.
    pub workflow: Option<&'a str>,
    /// The tenant it acts for, if any.
    pub tenant: Option<&'a str>,
    /// The endpoint or system it targets, if any.
    pub endpoint: Option<&'a str>,
    /// The class of incident it remediates, if any.
    pub incident_class: Option<&'a str>,
    /// The incident it remediates, if any; destructive actions are charged to it.
    pub incident: Option<&'a str>,
    /// How severe the action is, which sets its cost.
    pub severity: Severity,
}

impl<'a> LimitRequest<'a> {
    /// A request by `identity` of `severity` with no other keys.
    pub fn new(identity: &'a str, severity: Severity) -> Self {
        Self {
            identity,
            workflow: None,
            tenant: None,
            endpoint: None,
            incident_class: None,
            incident: None,
            severity,
        }
    }

    /// The same request, run in `workflow`.
    #[must_use]
    pub fn workflow(self, workflow: &'a str) -> Self {
        Self {
            workflow: Some(workflow),
            ..self
        }
    }

    /// The same request, made for `tenant`.
    #[must_use]
    pub fn tenant(self, tenant: &'a str) -> Self {
        Self {
            tenant: Some(tenant),
            ..self
        }
    }

    /// The same request, aimed at `endpoint`.
    #[must_use]
    pub fn endpoint(self, endpoint: &'a str) -> Self {
        Self {
            endpoint: Some(endpoint),
            ..self
        }
    }

    /// The same request, remediating an incident of `class`.
    #[must_use]
    pub fn incident_class(self, class: &'a str) -> Self {
        Self {
            incident_class: Some(class),
            ..self
        }
    }

    /// The same request, remediating the incident `incident`.
    #[must_use]
    pub fn incident(self, incident: &'a str) -> Self {
        Self {
            incident: Some(incident),
            ..self
        }
    }

    /// The key this request is charged under in `layer`, if it names one.
    pub fn key(&self, layer: Layer) -> Option<&'a str> {
        match layer {
            Layer::Identity => Some(self.identity),
            Layer::Workflow => self.workflow,
            Layer::Tenant => self.tenant,
            Layer::Endpoint => self.endpoint,
            Layer::IncidentClass => self.incident_class,
            Layer::Incident => self.incident,
        }
    }
}

/// A limiter's answer, with what `RateLimit` and `Retry-After` headers need.
///
/// `limit`, `remaining` and `reset_after` describe the tightest layer the request
/// touches: the one with the fewest units left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitDecision {
    /// Every layer was charged (or, in shadow mode, would have been checked).
    Allowed {
        /// Whole units left in the tightest layer after this request (`u32::MAX` when
        /// the plan limits none of the request's layers).
        remaining: u32,
        /// The burst of that layer (`u32::MAX` when nothing is limited).
        limit: u32,
        /// How long until every layer the request touched is full again.
        reset_after: Duration,
        /// In shadow mode, the layer that would have rejected this request; nothing
        /// was charged for it. `None` for a request that fits.
        shadow_rejected: Option<Layer>,
    },
    /// Nothing was charged: some layer has too few units left.
    Rejected {
        /// The layer that needs the longest wait.
        layer: Layer,
        /// How long until the request fits every layer, if nothing else is charged
        /// meanwhile. [`Duration::MAX`] when it never will, as for a second
        /// destructive action in an incident limited by [`Quota::once`].
        ///
        /// [`Quota::once`]: crate::Quota::once
        retry_after: Duration,
        /// The breach this rejection tripped; `Some` only on the one rejection that
        /// trips the kill switch.
        breach: Option<Breach>,
        /// Whole units left now in the tightest layer.
        remaining: u32,
        /// The burst of that layer.
        limit: u32,
        /// How long until every layer the request touched is full again.
        reset_after: Duration,
    },
}

impl LimitDecision {
    /// Whether the request may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// How long to wait before trying again, for a rejection.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Allowed { .. } => None,
            Self::Rejected { retry_after, .. } => Some(*retry_after),
        }
    }

    /// The breach this decision tripped, if any.
    pub fn breach(&self) -> Option<&Breach> {
        match self {
            Self::Allowed { .. } => None,
            Self::Rejected { breach, .. } => breach.as_ref(),
        }
    }

    /// Whole units left in the tightest layer.
    pub fn remaining(&self) -> u32 {
        match self {
            Self::Allowed { remaining, .. } | Self::Rejected { remaining, .. } => *remaining,
        }
    }

    /// The burst of the tightest layer.
    pub fn limit(&self) -> u32 {
        match self {
            Self::Allowed { limit, .. } | Self::Rejected { limit, .. } => *limit,
        }
    }

    /// How long until every layer the request touched is full again.
    pub fn reset_after(&self) -> Duration {
        match self {
            Self::Allowed { reset_after, .. } | Self::Rejected { reset_after, .. } => *reset_after,
        }
    }

    /// In shadow mode, the layer that would have rejected an allowed request.
    pub fn shadow_rejected(&self) -> Option<Layer> {
        match self {
            Self::Allowed {
                shadow_rejected, ..
            } => *shadow_rejected,
            Self::Rejected { .. } => None,
        }
    }
}

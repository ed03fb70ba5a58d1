//! Turning the script's reply into a decision: counting it, and acting on a breach.

use std::sync::atomic::Ordering;

use nhi_limiter::{Breach, BreachPolicy, Layer, LimitDecision, LimitRequest};

use crate::limiter::RedisLimiter;
use crate::script::{LayerCall, Mode, Reply};

impl RedisLimiter {
    /// Turns the script's reply into a decision, counting it and acting on a breach.
    pub(crate) fn conclude(
        &self,
        request: &LimitRequest<'_>,
        mode: Mode,
        reply: &Reply,
        calls: &[LayerCall],
        policy: &BreachPolicy,
    ) -> LimitDecision {
        let decision = reply.decision(calls);
        if mode == Mode::Peek {
            return decision;
        }
        match &decision {
            LimitDecision::Allowed {
                shadow_rejected: Some(_),
                ..
            } => {
                self.counters
                    .shadow_rejections
                    .fetch_add(1, Ordering::Relaxed);
            }
            LimitDecision::Rejected { layer, .. } => {
                self.counters.rejections.fetch_add(1, Ordering::Relaxed);
                if reply.breach {
                    return self.breach(request, *layer, reply, policy, decision);
                }
            }
            LimitDecision::Allowed { .. } => {}
        }
        decision
    }

    fn breach(
        &self,
        request: &LimitRequest<'_>,
        layer: Layer,
        reply: &Reply,
        policy: &BreachPolicy,
        decision: LimitDecision,
    ) -> LimitDecision {
        self.counters.breaches.fetch_add(1, Ordering::Relaxed);
        let breach = Breach {
            identity: request.identity.to_owned(),
            layer,
            rejections: policy.rejections.get(),
            window: policy.window,
            at: reply.now,
        };
        if let Some(action) = &self.action {
            action.on_breach(&breach);
        }
        match decision {
            LimitDecision::Rejected {
                layer,
                retry_after,
                remaining,
                limit,
                reset_after,
                ..
            } => LimitDecision::Rejected {
                layer,
                retry_after,
                breach: Some(breach),
                remaining,
                limit,
                reset_after,
            },
            allowed @ LimitDecision::Allowed { .. } => allowed,
        }
    }
}

//! [`ReloadablePolicy`]: a policy that can be replaced while requests are decided.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::decision::{Decision, PolicyEngine};
use crate::error::PolicyError;
use crate::request::PolicyRequest;
use crate::ruleset::RuleSet;

/// A policy engine that can be swapped for a new one atomically while requests are
/// being decided.
///
/// Each decision uses one whole policy: the one in place when it started. A reload
/// that fails (a bad file, a malformed rule) leaves the policy in place untouched, so a
/// typo never opens or closes the door.
///
/// ```
/// use nhi_policy::{ReloadablePolicy, RuleSet};
///
/// # fn main() -> Result<(), nhi_policy::PolicyError> {
/// let policy = ReloadablePolicy::new(RuleSet::default());
/// assert_eq!(policy.generation(), 0);
///
/// let bad = policy.reload_with(|| RuleSet::from_toml_str("[[rules]]\nid = 3"));
/// assert!(bad.is_err());
/// assert_eq!(policy.generation(), 0, "the old policy stays");
///
/// policy.replace(RuleSet::from_toml_str("")?);
/// assert_eq!(policy.generation(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ReloadablePolicy<E = RuleSet> {
    current: RwLock<Arc<E>>,
    generation: AtomicU64,
}

impl<E: PolicyEngine> ReloadablePolicy<E> {
    /// Starts with `engine`, generation 0.
    pub fn new(engine: E) -> Self {
        Self {
            current: RwLock::new(Arc::new(engine)),
            generation: AtomicU64::new(0),
        }
    }

    /// The policy in place now. Holding it keeps it alive after a reload.
    pub fn current(&self) -> Arc<E> {
        let guard = self.current.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// How many times the policy has been replaced.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Puts `engine` in place; returns the new generation.
    pub fn replace(&self, engine: E) -> u64 {
        let engine = Arc::new(engine);
        let mut guard = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *guard = engine;
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Loads a new policy with `load` and puts it in place; returns the new generation.
    ///
    /// # Errors
    ///
    /// Whatever `load` returns; the policy in place is then kept.
    pub fn reload_with<Err>(&self, load: impl FnOnce() -> Result<E, Err>) -> Result<u64, Err> {
        let engine = load()?;
        Ok(self.replace(engine))
    }
}

impl ReloadablePolicy<RuleSet> {
    /// Reads a policy file and puts it in place; returns the new generation.
    ///
    /// # Errors
    ///
    /// Those of [`RuleSet::from_file`]; the policy in place is then kept.
    pub fn reload_file(&self, path: impl AsRef<Path>) -> Result<u64, PolicyError> {
        self.reload_with(|| RuleSet::from_file(path))
    }
}

impl<E: PolicyEngine> PolicyEngine for ReloadablePolicy<E> {
    fn decide(&self, request: &PolicyRequest) -> Decision {
        self.current().decide(request)
    }
}

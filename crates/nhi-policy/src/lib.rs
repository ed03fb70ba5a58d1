//! Policy engine for non-human identities: allow, deny or require approval, with the deciding rule and reason

#![forbid(unsafe_code)]

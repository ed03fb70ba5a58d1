//! Cedar policies behind the nhi policy engine trait.

#![forbid(unsafe_code)]

//! Comparative benchmarks of the nhi crates.
//!
//! The benchmarks live in `benches/`; each measures an nhi operation beside its anchor
//! (governor, Cedar, raw ring, a raw file write) in the same run, so the result reads
//! as a ratio. This library is empty; run a benchmark with
//! `cargo bench -p nhi-benches --bench <name>`.
//!
//! ```
//! // nothing to call: see the `benches/` folder
//! ```

#![forbid(unsafe_code)]

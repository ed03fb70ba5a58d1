//! Layered token-bucket limiter with severity cost and breach detection, a kill switch for runaway agents

#![forbid(unsafe_code)]

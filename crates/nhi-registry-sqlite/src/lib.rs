//! Embedded durable identity store for nhi on SQLite (one file, no server)

#![forbid(unsafe_code)]

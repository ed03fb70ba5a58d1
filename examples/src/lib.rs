//! Runnable programs showing nhi at work; see the `examples` folder.

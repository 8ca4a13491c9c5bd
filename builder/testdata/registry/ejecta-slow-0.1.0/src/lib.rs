//! Slow to build, on purpose.

//! Device layer (placeholder until the devices issue lands).

//! Text counting (placeholder; being written).

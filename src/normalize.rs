//! normalize stage (being written).

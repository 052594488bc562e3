//! sample generator (being written).

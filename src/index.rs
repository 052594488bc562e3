//! index stage (being written; see the issue tracker).

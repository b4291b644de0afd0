//! TODO: what history answers.

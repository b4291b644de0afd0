//! TODO: reading and writing role files as commits.

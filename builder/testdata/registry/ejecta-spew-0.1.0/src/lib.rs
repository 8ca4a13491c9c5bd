//! Nothing to build: the test prints.

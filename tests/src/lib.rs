//! End-to-end tests: zie tests/tests/.

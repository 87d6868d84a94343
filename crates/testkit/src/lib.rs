//! End-to-end tests of daisy with real worker processes (see `tests/`), and the worker program
//! they start (`daisy-test-worker`), whose behaviour is chosen through `DAISY_TEST_WORKER`.

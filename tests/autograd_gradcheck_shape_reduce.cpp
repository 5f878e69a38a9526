// f64 finite-difference gradchecks (first and second order) for views and reductions.
#include <boost/test/unit_test.hpp>

#include "tests/support/op_table.h"

BOOST_AUTO_TEST_CASE(shape_reduce_table) {
  auto rep = difflab::testing::run_gradcheck_table(difflab::testing::shape_reduce_cases());
  BOOST_TEST(rep.failures == 0);
}

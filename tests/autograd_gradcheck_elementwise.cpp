// f64 finite-difference gradchecks (first and second order) for elementwise ops.
#include <boost/test/unit_test.hpp>

#include "tests/support/op_table.h"

BOOST_AUTO_TEST_CASE(elementwise_table) {
  auto rep = difflab::testing::run_gradcheck_table(difflab::testing::elementwise_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.cases > 40);
}

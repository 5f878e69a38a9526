// f64 finite-difference gradchecks (first and second order) for normalisation and softmax.
#include <boost/test/unit_test.hpp>

#include "tests/support/op_table.h"

BOOST_AUTO_TEST_CASE(norm_softmax_table) {
  auto rep = difflab::testing::run_gradcheck_table(difflab::testing::norm_softmax_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.cases >= 20);
  BOOST_TEST(rep.second_order == rep.cases);
}

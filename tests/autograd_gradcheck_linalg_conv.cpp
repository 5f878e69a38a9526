// f64 finite-difference gradchecks (first and second order) for matmul, linear, conv2d and its
// gradients, upsampling and average pooling.
#include <boost/test/unit_test.hpp>

#include "tests/support/op_table.h"

BOOST_AUTO_TEST_CASE(linalg_conv_table) {
  auto rep = difflab::testing::run_gradcheck_table(difflab::testing::linalg_conv_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.cases >= 35);
  BOOST_TEST(rep.second_order >= 25);
}

// CUDA-vs-CPU parity of every op family in the op table (forward and gradients, f64 and f32,
// contiguous and strided inputs). Skipped, with the reason, where no GPU can be used.
#include <boost/test/unit_test.hpp>

#include "tests/support/parity.h"

namespace dt = difflab::testing;
namespace utf = boost::unit_test;

BOOST_AUTO_TEST_CASE(elementwise_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::elementwise_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(shape_reduce_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::shape_reduce_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(linalg_conv_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::linalg_conv_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(norm_softmax_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::norm_softmax_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

BOOST_AUTO_TEST_CASE(index_parity, *utf::precondition(dt::CudaAvailable())) {
  auto rep = dt::run_parity_table(dt::index_cases());
  BOOST_TEST(rep.failures == 0);
  BOOST_TEST(rep.comparisons > rep.cases);
}

// Reported in every build, so a CI log shows whether the parity cases ran.
BOOST_AUTO_TEST_CASE(report_device) {
  std::string why = dt::cuda_skip_reason();
  const std::string line = why.empty() ? std::string("cuda parity: running on cuda:0")
                                       : "cuda parity: skipped, no GPU: " + why;
  BOOST_TEST_MESSAGE(line);
  BOOST_TEST(true);
}
